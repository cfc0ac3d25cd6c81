"""channels.<fmt> of ``cvq analyze``: the original image and its quantized latent channel by channel (Fig. 1
top, Fig. 3 left), laid out in pixels (1 px = 1/100 in) so that small latents stay sharp."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from .figures import DPI, group_colour, group_handles, new_figure, save

if TYPE_CHECKING:
    from .channels import InfluenceSummary

GAP, LABEL_H, FRAME = 6, 14, 3
#: Widest the original-image panel is drawn, px.
ORIGINAL_MAX_WIDTH = 384
CHAR_W = 6  # about one character of 8-pt text, px


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


def original_size(image_hw: tuple[int, int], room: int) -> tuple[int, int]:
    """(width, height) px of the original-image panel: ``room`` px high at most (96 at least), at most
    ORIGINAL_MAX_WIDTH wide, the image's aspect kept."""
    ih, iw = image_hw
    room = max(room, 96)
    pw = max(1, min(ORIGINAL_MAX_WIDTH, round(room * iw / ih)))
    return pw, max(1, min(room, round(pw * ih / iw)))


class PixelCanvas:
    """A figure of ``width`` x ``height`` px addressed in px from its top-left corner."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.fig = new_figure(width / DPI, height / DPI)

    def axes(self, x: float, y: float, w: float, h: float):
        ax = self.fig.add_axes((x / self.width, 1 - (y + h) / self.height, w / self.width, h / self.height))
        ax.set_axis_off()
        return ax

    def text(self, x: float, y: float, s: str, **kw) -> None:
        self.fig.text(x / self.width, 1 - y / self.height, s, fontsize=8, **kw)

    def frame(self, x: float, y: float, w: float, h: float, colour: str) -> None:
        from matplotlib.patches import Rectangle

        rect = Rectangle(
            (x / self.width, 1 - (y + h) / self.height), w / self.width, h / self.height, color=colour, zorder=-1
        )
        self.fig.add_artist(rect)


def channels_figure(summary: InfluenceSummary, title: str = "", fmt: str = "png") -> bytes:
    """The original image (Fig. 1 top left) and the first image's quantized latent, channel by channel
    (Fig. 1 top right, Fig. 3 left): each tile framed in its group's colour, labelled 'c<index> q<levels>'."""
    z, group = summary.first_z_hat, summary.first_group
    c_total, h, w = z.shape
    tiles = stretched_channels(z, group)
    tw, th = tile_size(h, w)
    cols = min(c_total, 8)
    rows = math.ceil(c_total / cols)
    cell_w, cell_h = max(tw + 2 * FRAME, 64), LABEL_H + th + 2 * FRAME
    lines = [t for t in (title, f"quantized latent {c_total} x {h} x {w} (value range stretched per channel)") if t]
    legend = [
        f"group {g + 1}: {ch} ch x {lv} levels"
        for g, (ch, lv) in enumerate(zip(summary.group_channels, summary.group_levels))
    ]
    header_h = 8 + 15 * len(lines) + 26
    grid_w, grid_h = GAP + cols * (cell_w + GAP), rows * (cell_h + GAP)
    image = summary.first_image
    left_w, original = 0, None
    if image is not None:
        iw, ih = summary.sizes[0] if summary.sizes else (image.shape[1], image.shape[0])
        original = f"original: {Path(summary.names[0]).name if summary.names else 'image'} ({iw} x {ih})"
        pw, ph = original_size(image.shape[:2], grid_h - GAP - LABEL_H)
        left_w = GAP + max(pw, CHAR_W * len(original))
        grid_h = max(grid_h, LABEL_H + ph + GAP)
    text_w = max(CHAR_W * max(map(len, lines)), sum(CHAR_W * len(s) + 40 for s in legend))
    canvas = PixelCanvas(max(left_w + grid_w, text_w + 2 * GAP), header_h + grid_h + GAP)
    for i, line in enumerate(lines):
        canvas.text(GAP, 6 + 15 * i, line, va="top")
    canvas.fig.legend(
        handles=group_handles(legend),
        loc="upper left",
        bbox_to_anchor=(0.0, 1 - (6 + 15 * len(lines)) / canvas.height),
        ncol=len(legend),
        fontsize=8,
        frameon=False,
    )
    if image is not None:
        canvas.text(GAP, header_h + LABEL_H - 2, original, va="bottom")
        ax = canvas.axes(GAP, header_h + LABEL_H, pw, ph)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, aspect="auto")
    for c in range(c_total):
        r, k = divmod(c, cols)
        x0 = left_w + GAP + k * (cell_w + GAP) + (cell_w - tw) // 2
        y0 = header_h + r * (cell_h + GAP) + LABEL_H + FRAME  # top of the tile
        colour = group_colour(int(group[c]))
        canvas.frame(x0 - FRAME, y0 - FRAME, tw + 2 * FRAME, th + 2 * FRAME, colour)
        ax = canvas.axes(x0, y0, tw, th)
        interpolation = "nearest" if tw >= w else "antialiased"
        ax.imshow(tiles[c].numpy(), cmap="gray", vmin=0.0, vmax=1.0, aspect="auto", interpolation=interpolation)
        label = f"c{c} q{summary.group_levels[int(group[c])]}"
        canvas.text(x0 - FRAME, y0 - FRAME - 2, label, color=colour, va="bottom")
    return save(canvas.fig, fmt)
