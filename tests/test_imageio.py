import errno
import io
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from cvqncodec.errors import InputError, OutputError
from cvqncodec.imageio import (
    check_output,
    check_writable,
    decode_image,
    encode_image,
    writable_metadata,
    write_atomic,
)
from cvqncodec.photo_metadata import is_srgb_profile, reset_exif_orientation
from tests.helpers import synthetic_image


def png(im: Image.Image, fmt: str = "PNG", **options) -> bytes:
    """``im`` saved in ``fmt`` (any format, despite the name) with Pillow's save ``options``."""
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
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


# ---------------------------------------------------------------------------------------- issue #21
def icc_profile(space: bytes = b"RGB ", gamma: float = 2.19921875) -> bytes:
    """A minimal ICC v2 matrix/TRC display profile: Adobe RGB (1998) primaries adapted to D50 (or a grey or
    CMYK header around the same tags, which is enough for the colour-space checks)."""

    def s15(x: float) -> bytes:
        return struct.pack(">i", round(x * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \0\0\0\0" + s15(x) + s15(y) + s15(z)

    text = b"Adobe RGB test\0"
    desc = (
        b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 4 + b"\0" * 4 + b"\0" * 2 + b"\0" + b"\0" * 67
    )
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    tags = [
        (b"desc", desc),
        (b"cprt", b"text\0\0\0\0public domain\0"),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for sig, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr" + space + b"XYZ "
    header += b"\0" * 12 + b"acsp" + b"APPL" + b"\0" * 4 + b"\0" * 8 + b"\0" * 8 + b"\0" * 4
    header += s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 4 + b"\0" * 16 + b"\0" * 28
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def exif_bytes(orientation: int | None, make: str = "Canon") -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    exif[0x010F] = make
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    return exif.tobytes()


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6" tiff:Make="Canon"/>'
    b"</rdf:RDF></x:xmpmeta>"
)


def pixels(img) -> np.ndarray:
    return np.round(img.tensor[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):  # item 1
    a = synthetic_image(20, 32)
    data = png(Image.fromarray(a), "PNG", exif=exif_bytes(orientation))
    img = decode_image(data, "x.png")
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))
    assert np.array_equal(pixels(img), expected)
    if orientation == 6:  # stored 32x20 landscape, shown (and coded) as 20x32 portrait, turned clockwise
        assert img.tensor.shape == (1, 3, 32, 20) and np.array_equal(pixels(img), np.rot90(a, k=-1))
    assert any("orientation" in n for n in img.notes) == (orientation != 1)
    kept = Image.Exif()
    kept.load(img.metadata["exif"])
    assert kept.get(0x0112) == 1 and kept.get(0x010F) == "Canon"  # reset, the rest kept
    assert kept.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"


def test_orientation_reset_keeps_every_other_exif_byte():
    raw = exif_bytes(6)[6:]  # without the Exif\0\0 prefix
    reset = reset_exif_orientation(b"Exif\x00\x00" + raw)
    assert len(reset) == len(raw) and sum(a != b for a, b in zip(raw, reset)) == 1
    assert reset_exif_orientation(b"garbage") is None and reset_exif_orientation(b"MM\x00*\xff\xff\xff\xff") is None


def test_icc_exif_and_xmp_are_carried_and_written_back():  # item 2
    adobe = icc_profile()
    a = synthetic_image(24, 16)
    data = png(Image.fromarray(a), "JPEG", icc_profile=adobe, exif=exif_bytes(6), xmp=XMP, quality=95)
    img = decode_image(data, "x.jpg")
    assert img.metadata["icc"] == adobe
    assert b"tiff:Make" in img.metadata["xmp"] and b"Orientation" not in img.metadata["xmp"]
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        out = Image.open(io.BytesIO(encode_image(pixels(img), fmt, img.metadata)))
        assert out.info.get("icc_profile") == adobe, fmt
        assert out.getexif().get(0x010F) == "Canon" and out.getexif().get(0x0112) == 1, fmt
        assert b"tiff:Make" in (out.info.get("xmp") or out.getexif().get(700) or b""), fmt
    assert writable_metadata("BMP", img.metadata) == {} and writable_metadata("PPM", img.metadata) == {}
    assert encode_image(pixels(img), "PNG") == encode_image(pixels(img), "PNG", {})


def test_srgb_profiles_are_not_stored_and_foreign_ones_dropped():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb = Image.fromarray(synthetic_image(8, 8))
    img = decode_image(png(rgb, "PNG", icc_profile=srgb))
    assert "icc" not in img.metadata and any("sRGB ICC profile not stored" in n for n in img.notes)
    assert is_srgb_profile(srgb) and not is_srgb_profile(icc_profile()) and not is_srgb_profile(b"junk")
    grey = decode_image(png(rgb.convert("L"), "PNG", icc_profile=icc_profile(b"GRAY")))
    assert grey.color_channels == 1 and grey.metadata["icc"][16:20] == b"GRAY"
    cmyk = decode_image(png(rgb.convert("CMYK"), "JPEG", icc_profile=icc_profile(b"CMYK")))
    assert "icc" not in cmyk.metadata and any("ICC profile dropped" in n for n in cmyk.notes)
    plain = decode_image(png(rgb))
    assert plain.metadata == {} and plain.warnings == []


@pytest.mark.parametrize("kind", ["gif", "apng", "tiff"])
def test_multi_frame_inputs_say_that_only_the_first_frame_is_coded(kind):  # item 3
    frames = [Image.fromarray(synthetic_image(16, 16, seed=i)) for i in range(3)]
    fmt = {"gif": "GIF", "apng": "PNG", "tiff": "TIFF"}[kind]
    data = png(frames[0], fmt, save_all=True, append_images=frames[1:])
    img = decode_image(data, f"anim.{kind}")
    assert img.warnings == [f"anim.{kind}: 3 frames (animation or pages); only the first is coded"]
    first = decode_image(png(frames[0], fmt), "still")
    assert first.warnings == [] and torch.equal(img.tensor, first.tensor)


def test_sizes_the_format_cannot_carry_are_refused_at_once():  # item 6
    with pytest.raises(InputError, match="1 .. 1048560"):
        decode_image(png(Image.new("L", (1_100_000, 1))), "wide.png")


def png_header_only(width: int, height: int) -> bytes:
    """A 70-byte PNG claiming width x height (no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


@pytest.mark.parametrize("width, height, mp", [(8000, 8000, 64), (10000, 10000, 100), (20000, 20000, 400)])
def test_huge_images_are_too_large_not_unsupported(width, height, mp):  # item 7
    with pytest.raises(InputError, match=rf"too large \({mp} MP; the limit is 40 MP\)"):
        decode_image(png_header_only(width, height), "huge.png")


def test_unwritable_output_folder_is_refused_before_any_work(tmp_path, monkeypatch):  # item 8
    import cvqncodec.imageio as imageio

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(imageio.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="Read-only file system"):
        check_output(str(tmp_path / "out.cvq"), force=False)
    with pytest.raises(OutputError, match="Read-only file system"):
        write_atomic(str(tmp_path / "out.cvq"), b"data", force=True)
    monkeypatch.undo()
    check_writable(str(tmp_path / "out.cvq"))
    assert list(tmp_path.iterdir()) == []  # the probe leaves nothing behind
    check_writable("-")


def test_read_only_system_folder_is_refused():
    if os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
        pytest.skip("/sys is writable here")
    try:
        check_writable("/sys/out.png")
    except OutputError as exc:
        assert "cannot write in /sys" in str(exc)
    else:
        pytest.skip("/sys accepts new files here")


def test_readable_images_skip_corrupt_files_with_a_note(tmp_path):  # item 10 (bench, analyze --dataset)
    from cvqncodec.imageio import readable_images

    good = tmp_path / "a.png"
    good.write_bytes(png(Image.fromarray(synthetic_image(8, 8))))
    bad = tmp_path / "b.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    ok, notes = readable_images([good, bad])
    assert ok == [good] and len(notes) == 1 and notes[0].startswith(f"skipped {bad}")
    with pytest.raises(InputError, match="no readable images"):
        readable_images([bad])
