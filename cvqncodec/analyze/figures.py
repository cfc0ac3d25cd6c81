"""The figures of ``cvq analyze``, drawn with matplotlib (the ``analyze`` extra; no pyplot, no GUI backend).

channels.png: the quantized latent channel by channel (Fig. 1 top right, Fig. 3 left); influence.png: the
loss per zeroed channel (Fig. 1 bottom). Channels are 0-based, groups 1-based (as in ``cvq info``).
"""

from __future__ import annotations

import io
import math

import torch

from ..metrics import MS_SSIM_MIN_SIDE
from ..optional import require_matplotlib
from .channels import InfluenceSummary

#: Group colours (colour-blind friendly, Okabe-Ito), reused cyclically.
GROUP_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9", "#f0e442", "#000000"]
DPI = 100


def check_matplotlib() -> None:
    """UsageError (exit 2) unless matplotlib can be imported; call before any model work."""
    require_matplotlib("cvq analyze (its figures)", "analyze")


def group_colour(g: int) -> str:
    return GROUP_COLOURS[g % len(GROUP_COLOURS)]


def _figure(width: float, height: float):
    check_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _legend(fig, labels: list[str], loc: str, y: float) -> None:
    """One coloured patch per group, in a row at height ``y`` (figure fraction)."""
    from matplotlib.patches import Patch

    handles = [Patch(color=group_colour(g), label=s) for g, s in enumerate(labels)]
    fig.legend(
        handles=handles,
        loc=loc,
        bbox_to_anchor=(0.0 if "left" in loc else 1.0, y),
        ncol=len(handles),
        fontsize=8,
        frameon=False,
    )


# ----------------------------------------------------------------------------------- channels.png
def stretched_channels(z_hat: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """(C, h, w) values in 0..1, stretched per channel; a constant channel gets the grey of its value
    within the range its group takes in ``z_hat`` (mid-grey where the whole group is constant)."""
    out = torch.empty_like(z_hat, dtype=torch.float64)
    for c in range(z_hat.shape[0]):
        v = z_hat[c].double()
        lo, hi = float(v.min()), float(v.max())
        if hi > lo:
            out[c] = (v - lo) / (hi - lo)
        else:
            vals = z_hat[group == group[c]]
            glo, ghi = float(vals.min()), float(vals.max())
            out[c] = 0.5 if ghi <= glo else min(1.0, max(0.0, (lo - glo) / (ghi - glo)))
    return out


def tile_size(h: int, w: int, minimum: int = 64, maximum: int = 192) -> tuple[int, int]:
    """Display size (px) of a latent channel: integer nearest-neighbour upscaling of small latents up to
    ``minimum`` px on the long side, large ones reduced to ``maximum`` px."""
    side = max(h, w)
    if side < minimum:
        s = math.ceil(minimum / side)
        return w * s, h * s
    if side > maximum:
        return max(1, round(w * maximum / side)), max(1, round(h * maximum / side))
    return w, h


def channels_png(summary: InfluenceSummary, title: str = "") -> bytes:
    """The first image's quantized latent, channel by channel (Fig. 1 top right, Fig. 3 left): each
    tile framed in its group's colour, labelled 'c<index> q<levels>'. Laid out in pixels."""
    z, group = summary.first_z_hat, summary.first_group
    c_total, h, w = z.shape
    tiles = stretched_channels(z, group)
    tw, th = tile_size(h, w)
    gap, label_h, frame = 6, 14, 3
    cols = min(c_total, 8)
    rows = math.ceil(c_total / cols)
    cell_w, cell_h = max(tw + 2 * frame, 64), label_h + th + 2 * frame
    lines = [t for t in (title, f"quantized latent {c_total} x {h} x {w} (value range stretched per channel)") if t]
    legend = [
        f"group {g + 1}: {ch} ch x {lv} levels"
        for g, (ch, lv) in enumerate(zip(summary.group_channels, summary.group_levels))
    ]
    header_h = 8 + 15 * len(lines) + 26
    text_w = max(6 * max(map(len, lines)), sum(6 * len(s) + 40 for s in legend))  # ~6 px a character
    width = max(gap + cols * (cell_w + gap), text_w + 2 * gap)
    height = header_h + rows * (cell_h + gap) + gap
    fig = _figure(width / DPI, height / DPI)
    from matplotlib.patches import Rectangle

    for i, line in enumerate(lines):
        fig.text(gap / width, 1 - (6 + 15 * i) / height, line, fontsize=8, va="top")
    _legend(fig, legend, "upper left", 1 - (6 + 15 * len(lines)) / height)
    for c in range(c_total):
        r, k = divmod(c, cols)
        x0 = gap + k * (cell_w + gap) + (cell_w - tw) // 2
        y0 = header_h + r * (cell_h + gap) + label_h + frame  # top of the tile, px from the top
        colour = group_colour(int(group[c]))
        fig.add_artist(
            Rectangle(
                ((x0 - frame) / width, 1 - (y0 + th + frame) / height),
                (tw + 2 * frame) / width,
                (th + 2 * frame) / height,
                transform=fig.transFigure,
                color=colour,
                zorder=-1,
            )
        )
        ax = fig.add_axes((x0 / width, 1 - (y0 + th) / height, tw / width, th / height))
        ax.imshow(
            tiles[c].numpy(),
            cmap="gray",
            vmin=0.0,
            vmax=1.0,
            aspect="auto",
            interpolation="nearest" if tw >= w else "antialiased",
        )
        ax.set_axis_off()
        fig.text(
            (x0 - frame) / width,
            1 - (y0 - frame - 2) / height,
            f"c{c} q{summary.group_levels[int(group[c])]}",
            color=colour,
            fontsize=8,
            va="bottom",
        )
    return _png(fig)


# ----------------------------------------------------------------------------------- influence.png
def influence_png(summary: InfluenceSummary, title: str = "") -> bytes:
    """Bar charts of the PSNR loss and the MS-SSIM loss in dB per channel (Fig. 1 bottom), bars coloured
    by group."""
    n = summary.channels
    fig = _figure(max(7.2, 0.16 * n + 1.5), 5.6)
    axes = fig.subplots(2, 1)
    colours = [group_colour(int(g)) for g in summary.group]
    panels = (
        (summary.psnr_loss, "PSNR loss per channel (dB)"),
        (summary.ms_ssim_db_loss, "MS-SSIM loss per channel (dB, -10 log10(1 - MS-SSIM))"),
    )
    for ax, (values, t) in zip(axes, panels):
        values = [float(v) for v in values]
        ax.set_title(t, fontsize=10, loc="left")
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
            continue
        ax.bar(range(n), [v if math.isfinite(v) else 0.0 for v in values], color=colours, width=0.75)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(0, n, max(1, math.ceil(n / 40))))
        ax.set_xlim(-0.6, n - 0.4)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", color="#d2d2d2", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("channel", fontsize=9)
    _legend(fig, [f"group {g + 1} ({lv} levels)" for g, lv in enumerate(summary.group_levels)], "upper right", 1.0)
    if title:
        fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _png(fig)
