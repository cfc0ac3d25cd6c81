"""One image through the real path: a conventional codec's sweep from bytes, a CVQN model from .cvq bytes."""

from __future__ import annotations

import pytest
from PIL import Image

from cvqncodec import codec
from cvqncodec.bench import CODECS, code_conventional, code_cvqn
from cvqncodec.bench.coding import load_model, timed
from cvqncodec.metrics import MS_SSIM_MIN_SIDE
from tests.helpers import synthetic_image

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("key", ["jpeg", "webp"])
def test_conventional_sweep_through_bytes(key):
    a = synthetic_image(176, 192, seed=4)
    records = code_conventional(CODECS[key], a, "x.png")
    assert len(records) == len(CODECS[key].settings) >= 8
    bpps = [r.bpp for r in records]
    assert bpps == sorted(bpps) and bpps[0] < 0.6 and bpps[-1] > 2.0
    for r in records:
        assert r.bpp == pytest.approx(r.num_bytes * 8 / (176 * 192))
        assert r.ms_ssim is not None and 0 < r.ms_ssim < 1 and 15 < r.psnr < 60
    assert records[-1].ms_ssim > records[0].ms_ssim


def test_timed():
    out, seconds = timed(sum, [1, 2], start=3)
    assert out == 6 and 0 <= seconds < 1


def test_code_cvqn_through_the_file(tiny_weights, tmp_path):
    loaded = load_model(str(tiny_weights), "cpu")
    side = MS_SSIM_MIN_SIDE - 1  # too small for MS-SSIM: n/a
    Image.fromarray(synthetic_image(side, 176, seed=5)[:, :, 0]).save(tmp_path / "grey.png")
    Image.fromarray(synthetic_image(MS_SSIM_MIN_SIDE, 176, seed=5)).save(tmp_path / "colour.png")
    (grey,) = code_cvqn(loaded, str(tmp_path / "grey.png"), "CVQN", "src", "cpu")
    (colour,) = code_cvqn(loaded, str(tmp_path / "colour.png"), "CVQN", "src", "cpu")
    assert (grey.codec, grey.setting, grey.source, grey.image) == ("CVQN", "tiny-test", "src", "grey.png")
    assert (grey.height, grey.width) == (side, 176) and grey.ms_ssim is None
    assert colour.ms_ssim is not None and 0 < colour.ms_ssim < 1
    assert grey.detail == loaded.weights_id.hex()
    from cvqncodec.imageio import load_image

    img = load_image(str(tmp_path / "grey.png"))
    data = codec.encode(loaded, img.tensor, img.color_channels).data
    assert grey.num_bytes == len(data) and grey.bpp == pytest.approx(len(data) * 8 / (side * 176))
