"""The ``--plot`` figure: MS-SSIM (dB) and PSNR against bpp for every codec (matplotlib, no pyplot).

The x axis runs from 0 to the highest rate plotted, so every point is on the figure; each codec's legend
entry carries the Bjøntegaard delta rate of our curve against it on that panel's quality measure.
"""

from __future__ import annotations

import io
import math

from ..optional import require_matplotlib
from .bd import BDResult, bd_rates
from .records import Point

#: (Point attribute, y label) of the two panels.
PANELS = (("ms_ssim_db", "MS-SSIM (dB), -10 log10(1 - MS-SSIM)"), ("psnr", "PSNR RGB (dB)"))


def check_matplotlib() -> None:
    """UsageError (exit 2) when matplotlib is not installed (checked before any work)."""
    require_matplotlib("--plot", "bench")


def _finite(pairs: list[tuple[float, float | None]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in pairs if y is not None and math.isfinite(y) and math.isfinite(x)]


def bd_label(codec: str, r: BDResult | None) -> str:
    """A legend entry: 'WebP (BD-rate -29.2 %)', or '... n/a' when there is no value."""
    if r is None:
        return codec
    return f"{codec} (BD-rate {'n/a' if r.value is None else f'{r.value:+.1f} %'})"


def draw(curves: dict[str, list[Point]], ours: str, title: str = "", bd_method: str = "akima"):
    """The matplotlib Figure: MS-SSIM (dB) vs bpp and PSNR vs bpp for every codec."""
    check_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    others = [c for c in curves if c != ours]
    bd = {c: (ms, ps) for c, ms, ps in bd_rates(curves, ours, others, bd_method)} if ours in curves else {}
    fig = Figure(figsize=(12, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for i, (ax, (attr, ylabel)) in enumerate(zip(axes, PANELS)):
        top = 0.0
        for codec, points in curves.items():
            mine = codec == ours
            xy = _finite([(p.bpp, getattr(p, attr)) for p in points])
            if not xy:
                continue
            top = max(top, max(x for x, _ in xy))
            ax.plot(
                *zip(*xy),
                marker="o",
                linewidth=2.2 if mine else 1.2,
                markersize=5 if mine else 3.5,
                label=codec if mine else bd_label(codec, bd[codec][i] if codec in bd else None),
                zorder=3 if mine else 2,
            )
        ax.set_xlim(0, top * 1.04 if top > 0 else 1.0)  # every point on the figure
        ax.set_xlabel("rate (bpp)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", title=f"BD-rate of {ours} vs. each codec" if bd else None, title_fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot(
    curves: dict[str, list[Point]], ours: str, title: str = "", fmt: str = "png", bd_method: str = "akima"
) -> bytes:
    """:func:`draw`'s figure as bytes in ``fmt`` (png, pdf or svg)."""
    buf = io.BytesIO()
    draw(curves, ours, title, bd_method).savefig(buf, format=fmt, dpi=150)
    return buf.getvalue()
