"""The figures of ``cvq analyze`` (matplotlib only): cvqncodec.analyze.figures and .latent."""

from __future__ import annotations

import dataclasses
import io
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from cvqncodec.analyze import figures, latent
from cvqncodec.analyze.original import thumbnail
from cvqncodec.errors import UsageError
from tests.analyze.conftest import SIGNATURES
from tests.helpers import image_tensor

pytestmark = pytest.mark.usefixtures("one_thread")


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG"
        return im.size


def test_influence_figure(small_summary):
    pytest.importorskip("matplotlib")
    assert png_size(figures.influence_figure(small_summary, "t")) == (720, 640)
    # Finite values in both panels (small_summary's MS-SSIM panel is n/a), one group.
    s = dataclasses.replace(
        small_summary,
        psnr_loss=torch.full((8,), 0.1, dtype=torch.float64),
        ms_ssim_db_loss=torch.full((8,), 0.2, dtype=torch.float64),
        group=torch.zeros(8, dtype=torch.int64),
    )
    assert png_size(figures.influence_figure(s, "t")) == (720, 640)


def test_influence_figure_layout(small_summary, monkeypatch):
    """Axis labels on both panels, the legend in its own row between the title and the panels."""
    pytest.importorskip("matplotlib")
    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, fmt: drawn.setdefault("fig", fig) and b"")
    figures.influence_figure(small_summary, "a rather long title " * 6)
    fig = drawn["fig"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    legend_ax, top, bottom = fig.axes
    assert [ax.get_xlabel() for ax in (top, bottom)] == ["latent channel"] * 2
    assert [ax.get_ylabel() for ax in (top, bottom)] == ["PSNR loss (dB)", "MS-SSIM loss (dB)"]
    renderer = canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    legend = legend_ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= title.y0 and legend.y0 >= top.get_tightbbox(renderer).y1 - 1


def test_channels_figure_has_the_original(small_summary):
    pytest.importorskip("matplotlib")
    w, h = png_size(latent.channels_figure(small_summary, "a title"))
    assert w > 8 * 64 and h > 64  # 8 tiles in a row, upscaled to at least 64 px
    assert small_summary.first_image.shape == (24, 40, 3)
    without = dataclasses.replace(small_summary, first_image=None)
    assert png_size(latent.channels_figure(without, "a title"))[0] < w  # the original's panel is at the left


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_vector_formats(small_summary, fmt):
    pytest.importorskip("matplotlib")
    for draw in (figures.influence_figure, latent.channels_figure):
        data = draw(small_summary, "t", fmt)
        assert data.startswith(SIGNATURES[fmt])
        assert draw(small_summary, "t", fmt) == data  # no date or random ids: the same bytes each run
    with pytest.raises(ValueError, match="unknown figure format"):
        figures.influence_figure(small_summary, "t", "gif")


def test_thumbnail_and_original_panel_size():
    t = thumbnail(image_tensor(30, 1200), 3, side=300)
    assert t.shape == (8, 300, 3) and t.dtype == np.uint8
    assert thumbnail(image_tensor(20, 10), 1).shape == (20, 10)  # greyscale: 2-D, not enlarged
    assert latent.original_size((400, 600), 200) == (300, 200)
    assert latent.original_size((400, 4000), 200) == (latent.ORIGINAL_MAX_WIDTH, 38)
    assert latent.original_size((10, 10), 20) == (96, 96)


def test_tile_size_upscales_small_latents_and_reduces_large_ones():
    assert latent.tile_size(2, 3) == (66, 44)  # x 22: nearest-neighbour, integer
    assert latent.tile_size(100, 150) == (150, 100)
    assert latent.tile_size(400, 800) == (192, 96)


def test_channels_are_stretched_and_constant_ones_keep_their_grey():
    z = torch.tensor([[[0.0, 2.0]], [[1.0, 1.0]], [[5.0, 5.0]], [[5.0, 5.0]]])  # (C=4, 1, 2)
    group = torch.tensor([0, 0, 1, 1])
    t = latent.stretched_channels(z, group)
    assert t[0].tolist() == [[0.0, 1.0]]
    assert t[1].tolist() == [[0.5, 0.5]]  # 1 within group 0's range 0..2
    assert t[2].tolist() == [[0.5, 0.5]] and t[3].tolist() == [[0.5, 0.5]]  # a constant group: mid-grey


def test_figures_need_matplotlib(small_summary, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for draw in (figures.influence_figure, latent.channels_figure):
        with pytest.raises(UsageError) as exc:
            draw(small_summary, "t")
        assert exc.value.exit_code == 2
        assert "pip install matplotlib" in str(exc.value) and "cvqncodec[analyze]" in str(exc.value)
