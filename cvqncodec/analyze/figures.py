"""The figures of ``cvq analyze``, drawn with matplotlib (the ``analyze`` extra; no pyplot, no GUI backend),
as PNG, SVG or PDF (``--format``).

channels.<fmt> (:mod:`.latent`): the original image and its quantized latent channel by channel (Fig. 1
top, Fig. 3 left); influence.<fmt> (here): the loss per zeroed channel (Fig. 1 bottom). Channels are
0-based, groups 1-based (as in ``cvq info``).
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from ..metrics import MS_SSIM_MIN_SIDE
from ..optional import require_matplotlib

if TYPE_CHECKING:
    from .channels import InfluenceSummary

#: Group colours (colour-blind friendly, Okabe-Ito), reused cyclically.
GROUP_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000"]
DPI = 100
#: The figure formats of ``--format``; metadata that would make two runs' files differ is left out.
FORMATS = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def check_matplotlib() -> None:
    """UsageError (exit 2) unless matplotlib can be imported; call before any model work."""
    require_matplotlib("cvq analyze (its figures)", "analyze")


def group_colour(g: int) -> str:
    return GROUP_COLOURS[g % len(GROUP_COLOURS)]


def new_figure(width: float, height: float, layout: str | None = None):
    check_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout=layout)


def save(fig, fmt: str = "png") -> bytes:
    """The figure as ``fmt`` bytes; PDF fonts embedded as TrueType (no Type 3 fonts, as publishers ask)."""
    import matplotlib

    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r} (choose from {', '.join(FORMATS)})")
    buf = io.BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "cvq analyze"}):
        fig.savefig(buf, format=fmt, metadata=FORMATS[fmt])
    return buf.getvalue()


def group_handles(labels: list[str]) -> list:
    """One coloured patch per group, for a legend."""
    from matplotlib.patches import Patch

    return [Patch(color=group_colour(g), label=s) for g, s in enumerate(labels)]


def _bars(ax, values: list[float], colours: list[str], n: int) -> None:
    """One bar per channel on ``ax``, or a note when every value is n/a."""
    if not any(math.isfinite(v) for v in values):
        ax.text(
            0.5,
            0.5,
            f"n/a (MS-SSIM needs images of at least {MS_SSIM_MIN_SIDE} px per side)",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.bar(range(n), [v if math.isfinite(v) else 0.0 for v in values], color=colours, width=0.75)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(0, n, max(1, math.ceil(n / 40))))
    ax.set_xlim(-0.6, n - 0.4)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#d2d2d2", linewidth=0.6)
    ax.set_axisbelow(True)


def influence_figure(summary: InfluenceSummary, title: str = "", fmt: str = "png") -> bytes:
    """Bar charts of the PSNR loss and the MS-SSIM loss in dB per zeroed channel (Fig. 1 bottom), bars
    coloured by group; the title on top, then the group legend in its own row, then the two panels."""
    n = summary.channels
    fig = new_figure(max(7.2, 0.16 * n + 1.5), 6.4, layout="constrained")
    legend_ax, *axes = fig.subplots(3, 1, height_ratios=[0.08, 1, 1])
    colours = [group_colour(int(g)) for g in summary.group]
    panels = (
        (summary.psnr_loss, "PSNR loss when the channel is zeroed", "PSNR loss (dB)"),
        (
            summary.ms_ssim_db_loss,
            "MS-SSIM loss when the channel is zeroed, in dB: -10 log10(1 - MS-SSIM)",
            "MS-SSIM loss (dB)",
        ),
    )
    for ax, (values, t, ylabel) in zip(axes, panels):
        ax.set_title(t, fontsize=9, loc="left")
        _bars(ax, [float(v) for v in values], colours, n)
        ax.set_xlabel("latent channel", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
    legend_ax.set_axis_off()
    labels = [f"group {g + 1} ({lv} levels)" for g, lv in enumerate(summary.group_levels)]
    legend_ax.legend(handles=group_handles(labels), loc="center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    return save(fig, fmt)
