"""The ``--plot`` figure: MS-SSIM (dB) and PSNR against bpp for every codec (matplotlib, no pyplot)."""

from __future__ import annotations

import io
import math

from ..optional import require_matplotlib
from .records import Point


def check_matplotlib() -> None:
    """UsageError (exit 2) when matplotlib is not installed (checked before any work)."""
    require_matplotlib("--plot", "bench")


def _finite(pairs: list[tuple[float, float | None]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in pairs if y is not None and math.isfinite(y)]


def plot(curves: dict[str, list[Point]], ours: str, title: str = "", fmt: str = "png") -> bytes:
    """MS-SSIM (dB) vs bpp and PSNR vs bpp for every codec; the figure as bytes in ``fmt``."""
    check_matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for codec, points in curves.items():
        mine = codec == ours
        style = dict(
            marker="o",
            linewidth=2.2 if mine else 1.2,
            markersize=5 if mine else 3.5,
            label=codec,
            zorder=3 if mine else 2,
        )
        for ax, attr in zip(axes, ("ms_ssim_db", "psnr")):
            xy = _finite([(p.bpp, getattr(p, attr)) for p in points])
            if xy:
                ax.plot(*zip(*xy), **style)
    # The range of interest: up to 1.5 x our highest rate (at least 1 bpp); higher-rate tails are cut.
    top = max((p.bpp for p in curves.get(ours, [])), default=0.0)
    most = max((p.bpp for points in curves.values() for p in points), default=1.0)
    for ax, ylabel in zip(axes, ("MS-SSIM (dB)", "PSNR RGB (dB)")):
        if most > max(1.0, 1.5 * top):
            ax.set_xlim(0, max(1.0, 1.5 * top))
        ax.set_xlabel("bpp")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150)
    return buf.getvalue()
