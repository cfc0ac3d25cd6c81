"""The figures of ``cvq analyze`` (matplotlib only): cvqncodec.analyze.figures."""

from __future__ import annotations

import dataclasses
import io
import sys

import pytest
import torch
from PIL import Image

from cvqncodec.analyze import figures
from cvqncodec.errors import UsageError

pytestmark = pytest.mark.usefixtures("one_thread")


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return im.size


def test_influence_png(small_summary):
    pytest.importorskip("matplotlib")
    assert png_size(figures.influence_png(small_summary, "t")) == (720, 560)
    # Finite values in both panels (small_summary's MS-SSIM panel is n/a), one group.
    s = dataclasses.replace(
        small_summary,
        psnr_loss=torch.full((8,), 0.1, dtype=torch.float64),
        ms_ssim_db_loss=torch.full((8,), 0.2, dtype=torch.float64),
        group=torch.zeros(8, dtype=torch.int64),
    )
    assert png_size(figures.influence_png(s, "t")) == (720, 560)


def test_channels_png(small_summary):
    pytest.importorskip("matplotlib")
    w, h = png_size(figures.channels_png(small_summary, "a title"))
    assert w > 8 * 64 and h > 64  # 8 tiles in a row, upscaled to at least 64 px


def test_tile_size_upscales_small_latents_and_reduces_large_ones():
    assert figures.tile_size(2, 3) == (66, 44)  # x 22: nearest-neighbour, integer
    assert figures.tile_size(100, 150) == (150, 100)
    assert figures.tile_size(400, 800) == (192, 96)


def test_channels_are_stretched_and_constant_ones_keep_their_grey():
    z = torch.tensor([[[0.0, 2.0]], [[1.0, 1.0]], [[5.0, 5.0]], [[5.0, 5.0]]])  # (C=4, 1, 2)
    group = torch.tensor([0, 0, 1, 1])
    t = figures.stretched_channels(z, group)
    assert t[0].tolist() == [[0.0, 1.0]]
    assert t[1].tolist() == [[0.5, 0.5]]  # 1 within group 0's range 0..2
    assert t[2].tolist() == [[0.5, 0.5]] and t[3].tolist() == [[0.5, 0.5]]  # a constant group: mid-grey


def test_figures_need_matplotlib(small_summary, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for draw in (figures.influence_png, figures.channels_png):
        with pytest.raises(UsageError) as exc:
            draw(small_summary, "t")
        assert exc.value.exit_code == 2
        assert "pip install matplotlib" in str(exc.value) and "cvqncodec[analyze]" in str(exc.value)
