"""The Pillow plugin (cvqncodec.pillow_plugin): Image.open / im.save of .cvq files."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import cvqncodec
from cvqncodec import api, pillow_plugin
from tests.helpers import make_weights, synthetic_image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def installed(tiny_weights, monkeypatch):
    monkeypatch.setenv("CVQ_WEIGHTS", str(tiny_weights.parent))
    api.clear_cache()
    yield str(tiny_weights)
    api.clear_cache()


def test_registered_on_import_without_torch():
    code = (
        "import sys; from PIL import Image; import cvqncodec.pillow_plugin; "
        "assert Image.registered_extensions()['.cvq'] == 'CVQ' and 'CVQ' in Image.SAVE; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    cvqncodec.register_pillow()  # explicit, and idempotent
    cvqncodec.register_pillow()
    assert Image.ID.count("CVQ") == 1 and Image.MIME["CVQ"] == "image/x-cvq"


def test_save_and_open(tmp_path, installed):
    rgb = Image.fromarray(synthetic_image(40, 56, seed=6))
    rgb.save(tmp_path / "a.cvq", model=installed)
    data = (tmp_path / "a.cvq").read_bytes()
    assert data == api.encode(rgb, model=installed)  # the same bytes as cvqncodec.encode
    with Image.open(tmp_path / "a.cvq") as im:
        assert (im.format, im.mode, im.size, im.info["cvq_model"]) == ("CVQ", "RGB", (56, 40), "tiny-test")
        assert im.tile  # opening read only the header: nothing decoded yet
        pixels = np.asarray(im)
    assert np.array_equal(pixels, np.asarray(api.decode(data)))
    buf = io.BytesIO()
    rgb.save(buf, format="CVQ", model=installed)
    assert buf.getvalue() == data
    with Image.open(io.BytesIO(data)) as im:
        im.convert("L").save(tmp_path / "grey.cvq", model=installed)
    with Image.open(tmp_path / "grey.cvq") as im:
        assert im.mode == "L" and im.size == (56, 40)
        im.load()


def test_errors_are_oserrors(tmp_path, installed):
    with pytest.raises(OSError, match="transparency"):
        Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(tmp_path / "t.cvq", model=installed)
    good = api.encode(synthetic_image(24, 24), model=installed)
    with pytest.raises(OSError, match="cannot read .cvq file"):
        Image.open(io.BytesIO(good[:-5]))  # truncated: the magic matches, the CRC does not
    other = make_weights(tmp_path / "elsewhere.safetensors", name="not-installed")
    with Image.open(io.BytesIO(api.encode(synthetic_image(24, 24), model=other))) as im:
        assert im.info["cvq_model"] == "not-installed"
        with pytest.raises(OSError, match="cannot decode .cvq file: no model named 'not-installed'"):
            im.load()
    with pytest.raises(ValueError, match="1..5"):
        Image.new("RGB", (8, 8)).save(tmp_path / "q.cvq", quality=90)
    assert not pillow_plugin._accept(b"\x89PNG\r\n\x1a\n")
