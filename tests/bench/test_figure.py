"""The --plot figure: every point on the axes, BD-rates in the legend, the three formats."""

from __future__ import annotations

import pytest

from cvqncodec.bench import summarize
from cvqncodec.bench.bd import BDResult
from cvqncodec.bench.figure import bd_label, draw, plot
from tests.bench.helpers import rec


@pytest.fixture()
def curves():
    ours = [rec("CVQN", f"q{i}", "a.png", 0.1 * i, 1 - 0.1 / i, psnr=24 + i) for i in range(1, 6)]
    webp = [rec("WebP", f"q={i}", "a.png", 0.3 * i, 1 - 0.2 / i, order=i, psnr=25 + i) for i in range(1, 11)]
    return summarize(ours + webp, ["CVQN", "WebP"])


def test_every_point_is_on_the_axes_and_the_legend_has_bd_rates(curves):
    pytest.importorskip("matplotlib")
    fig = draw(curves, "CVQN", "title")
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert lo == 0 and hi >= 3.0  # WebP's last point, 3 bpp, is 10x our highest rate
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[0] == "CVQN" and labels[1].startswith("WebP (BD-rate ") and labels[1].endswith(" %)")
        assert ax.get_legend().get_title().get_text() == "BD-rate of CVQN vs. each codec"
        assert ax.get_xlabel() == "rate (bpp)" and ax.get_ylabel()


def test_bd_label():
    assert bd_label("WebP", BDResult(-29.21, "akima", (10.0, 14.0))) == "WebP (BD-rate -29.2 %)"
    assert bd_label("JPEG", BDResult(None, "too few points")) == "JPEG (BD-rate n/a)"
    assert bd_label("JPEG", None) == "JPEG"


def test_formats(curves):
    pytest.importorskip("matplotlib")
    assert plot(curves, "CVQN", fmt="png").startswith(b"\x89PNG")
    assert plot(curves, "CVQN", fmt="pdf").startswith(b"%PDF")
    assert b"<svg" in plot(curves, "CVQN", fmt="svg")[:2000]
    only_ours = {"CVQN": curves["CVQN"]}
    assert draw(only_ours, "CVQN").axes[0].get_legend().get_title().get_text() == ""
