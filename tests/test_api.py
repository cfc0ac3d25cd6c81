"""The Python API (cvqncodec.api, exported lazily from the package): encode, decode, cached models."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import cvqncodec
from cvqncodec import api, codec, container
from cvqncodec.errors import BitstreamError, InputError, ModelError
from cvqncodec.imageio import load_image
from cvqncodec.weights import load_weights
from tests.helpers import make_weights, synthetic_image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(synthetic_image(40, 56, seed=3)).save(path)
    return path


@pytest.fixture()
def installed(tiny_weights, monkeypatch):
    """The tiny model installed by name (decode finds a file's model by the name in its header)."""
    monkeypatch.setenv("CVQ_WEIGHTS", str(tiny_weights.parent))
    api.clear_cache()
    yield tiny_weights
    api.clear_cache()


def test_package_exports_lazily_and_import_stays_light():
    code = (
        "import sys, cvqncodec; assert 'torch' not in sys.modules; "
        "assert {'encode', 'decode', 'load_model', 'register_pillow'} <= set(dir(cvqncodec)); "
        "import cvqncodec.pillow_plugin; assert 'torch' not in sys.modules; "
        "assert callable(cvqncodec.encode) and 'torch' not in sys.modules  # torch comes with the first call"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert cvqncodec.encode is api.encode and cvqncodec.decode is api.decode
    with pytest.raises(AttributeError):
        cvqncodec.no_such_name  # noqa: B018


def test_encode_any_image_like_gives_the_cli_bytes(photo, installed):
    expected = codec.encode(load_weights(installed), load_image(str(photo)).tensor).data
    rgb = np.asarray(Image.open(photo))
    for image in (photo, str(photo), photo.read_bytes(), Image.open(photo), rgb):
        assert api.encode(image, model=installed) == expected
    assert api.encode(photo, model=api.load_model(installed)) == expected


def test_decode_bytes_or_path(photo, installed, tmp_path):
    data = api.encode(photo, model=installed)
    header, streams = container.unpack(data)
    x, _ = codec.decode(load_weights(installed), header, streams)
    im = api.decode(data)  # the model the file names, from CVQ_WEIGHTS
    assert im.mode == "RGB" and im.size == (56, 40)
    assert np.array_equal(np.asarray(im), np.round(x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8))
    (tmp_path / "photo.cvq").write_bytes(data)
    assert np.array_equal(np.asarray(api.decode(tmp_path / "photo.cvq")), np.asarray(im))
    assert np.array_equal(np.asarray(api.decode(data, model=installed)), np.asarray(im))


def test_greyscale_round_trips_as_L(installed):
    grey = Image.fromarray(synthetic_image(24, 32, seed=4)[:, :, 0])
    im = api.decode(api.encode(grey, model=installed))
    assert im.mode == "L" and im.size == (32, 24)


def test_models_are_loaded_once(installed):
    a = api.load_model(installed)
    assert api.load_model(str(installed)) is a and api.load_model("tiny-test") is a
    api.clear_cache()
    assert api.load_model(installed) is not a


def test_quality_picks_the_model(tmp_path, monkeypatch, photo):
    make_weights(tmp_path / "q2.safetensors", name="cvqn-q2", seed=1)
    monkeypatch.setenv("CVQ_WEIGHTS", str(tmp_path))
    assert api.load_model(quality=2).name == "cvqn-q2"
    assert container.unpack(api.encode(photo, 2))[0].model_name == "cvqn-q2"
    api.clear_cache()


def test_errors(photo, installed, tmp_path):
    with pytest.raises(ValueError, match="not both"):
        api.encode(photo, 2, model=installed)
    with pytest.raises(ValueError, match="1..5"):
        api.load_model(quality=6)
    with pytest.raises(ValueError, match="cannot encode a list"):
        api.encode([1, 2, 3], model=installed)
    transparent = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    with pytest.raises(InputError, match="transparency"):
        api.encode(transparent, model=installed)
    with pytest.raises(BitstreamError):
        api.decode(b"not a cvq file")
    with pytest.raises(ModelError):
        api.load_model(tmp_path / "missing.safetensors")
    other = make_weights(tmp_path / "elsewhere.safetensors", name="not-installed")
    with pytest.raises(ModelError, match="no model named 'not-installed'"):  # decode finds models by name only
        api.decode(api.encode(photo, model=other))


def test_effort_refines_and_stays_decodable(installed):
    small = synthetic_image(32, 32, seed=5)
    data = api.encode(small, model=installed, effort=2)
    assert api.decode(data).size == (32, 32)
    with pytest.raises(ValueError, match="effort"):
        api.encode(small, model=installed, effort=99)


def test_decoded_image_saves_anywhere(photo, installed):
    buf = io.BytesIO()
    api.decode(api.encode(photo, model=installed)).save(buf, format="PNG")
    assert buf.getvalue().startswith(b"\x89PNG")
