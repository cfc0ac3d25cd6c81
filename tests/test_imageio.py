import io

import numpy as np
import pytest
from PIL import Image

from cvqncodec.errors import InputError, OutputError
from cvqncodec.imageio import check_output, decode_image, write_atomic
from tests.helpers import synthetic_image


def png(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def test_rgb_png_loads_exactly():
    a = synthetic_image(9, 13)
    img = decode_image(png(Image.fromarray(a)))
    assert img.color_channels == 3
    assert np.array_equal(np.round(img.tensor[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8), a)


@pytest.mark.parametrize("mode", ["L", "1", "P", "I;16", "CMYK", "LA", "RGBA"])
def test_modes_are_converted(mode):
    rgb = Image.fromarray(synthetic_image(20, 30))
    if mode == "I;16":
        im = Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257)
        assert im.mode.startswith("I")
    elif mode in ("LA", "RGBA"):
        im = rgb.convert(mode)  # fully opaque alpha
    else:
        im = rgb.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    img = decode_image(png(im, fmt))
    assert img.tensor.shape == (1, 3, 20, 30)
    assert img.color_channels == (1 if mode in ("L", "1", "I;16", "LA") else 3)


def test_sixteen_bit_is_scaled_not_clipped():
    a = np.full((4, 4), 65535, dtype=np.uint16)
    img = decode_image(png(Image.fromarray(a)))
    assert float(img.tensor.min()) == 1.0


def test_transparency_is_refused():
    im = Image.fromarray(synthetic_image(8, 8)).convert("RGBA")
    im.putpixel((0, 0), (1, 2, 3, 0))
    with pytest.raises(InputError, match="transparency"):
        decode_image(png(im))


@pytest.mark.parametrize("data", [b"", b"hello world", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"])
def test_non_images_are_refused(data):
    with pytest.raises(InputError):
        decode_image(data)


def test_truncated_png_is_refused():
    data = png(Image.fromarray(synthetic_image(64, 64)))
    with pytest.raises(InputError):
        decode_image(data[: len(data) // 2])


def test_atomic_write_refuses_existing_unless_forced(tmp_path):
    p = tmp_path / "out.bin"
    write_atomic(str(p), b"one", force=False)
    with pytest.raises(OutputError, match="exists"):
        write_atomic(str(p), b"two", force=False)
    write_atomic(str(p), b"two", force=True)
    assert p.read_bytes() == b"two"
    assert [x.name for x in tmp_path.iterdir()] == ["out.bin"]
    with pytest.raises(OutputError):
        check_output(str(tmp_path / "missing" / "x.cvq"), force=False)


def test_list_images_sorted_filtered_limited_and_recursive(tmp_path):
    from cvqncodec.errors import InputError
    from cvqncodec.imageio import list_images

    for name in ("b.PNG", "a.jpg", ".hidden.png", "notes.txt", "sub/c.webp"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG"]
    assert [p.name for p in list_images(tmp_path, limit=1)] == ["a.jpg"]
    assert [p.name for p in list_images(tmp_path, recursive=True)] == ["a.jpg", "b.PNG", "c.webp"]
    with pytest.raises(InputError, match="not a folder"):
        list_images(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        list_images(tmp_path / "empty")


def test_as_decoded_greys_like_the_decoder():
    import torch

    from cvqncodec.imageio import as_decoded, to_uint8

    x = torch.rand(1, 3, 4, 5)
    grey = as_decoded(x, 1)
    assert grey.shape == x.shape and torch.equal(grey[:, 0], grey[:, 2])
    assert torch.allclose(grey[:, 1], x.mean(dim=1))
    assert as_decoded(x, 3) is x
    assert to_uint8(x, 1).shape == (4, 5)
