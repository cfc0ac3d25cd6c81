"""``cvq bench --crops DIR``: side-by-side crops of every codec at the bpp nearest each of our rate points.

One PNG per image and rate point of ours: the original, ours and, for every conventional codec, its setting
with the bpp nearest ours on that image (as ``--match-bpp`` picks it), the same window of each (the window
of the original with the most detail, 1:1 pixels). The chosen settings are coded again after the run, one
image at a time, so a run keeps no decoded image. Every panel is labelled with codec, setting, bpp and
MS-SSIM of the whole image, drawn with Pillow.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..text import fmt
from .coding import conventional_round_trip, cvqn_round_trip
from .conventional import CODECS
from .matching import nearest
from .records import BenchResult, Record, slug, unique_names
from .runner import Worker

if TYPE_CHECKING:
    from PIL import Image

#: Side of the square crop in px (smaller images are shown whole).
CROP_SIDE = 256
GAP, PAD = 8, 4


@dataclass
class Sheet:
    """One output PNG: an image at one of our rate points, beside the nearest setting of every codec."""

    image: Path
    ours: Record
    others: list[Record]
    name: str = ""


def plan(result: BenchResult) -> list[Sheet]:
    """A Sheet per image and rate point of ours (in the tables' order), with its file name."""
    by_key: dict[tuple[str, str], list[Record]] = {}
    for r in result.records:
        by_key.setdefault((r.codec, r.image), []).append(r)
    sheets = []
    for path in result.images:
        for r in by_key.get((result.ours, path.name), []):
            picks = [nearest(by_key.get((c, path.name), []), r.bpp) for c in result.codecs]
            sheets.append(Sheet(path, r, [p for p in picks if p is not None]))
    names = unique_names([f"{s.image.stem}_{slug(s.ours.setting)}" for s in sheets], ".png")
    for s, n in zip(sheets, names):
        s.name = n
    return sheets


def detail_window(grey: np.ndarray, side: int = CROP_SIDE) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the ``side`` x ``side`` window (the whole image where smaller) with the
    largest sum of absolute neighbour differences; ties: the top-left one."""
    h, w = grey.shape
    cw, ch = min(side, w), min(side, h)
    g = grey.astype(np.float64)
    energy = np.zeros_like(g)
    energy[:, 1:] += np.abs(np.diff(g, axis=1))
    energy[1:, :] += np.abs(np.diff(g, axis=0))
    ii = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    step = max(1, min(cw, ch) // 4)
    ys = sorted({*range(0, h - ch + 1, step), h - ch})
    xs = sorted({*range(0, w - cw + 1, step), w - cw})
    _, y, x = max((ii[y + ch, x + cw] - ii[y, x + cw] - ii[y + ch, x] + ii[y, x], -y, -x) for y in ys for x in xs)
    return -x, -y, cw, ch


def _font(size: int = 13):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def panel(crop: np.ndarray, lines: list[str]) -> Image.Image:
    """A crop (uint8, (h, w) or (h, w, 3)) with ``lines`` of text below it, on white."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(crop).convert("RGB")
    font = _font()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = int(font.getbbox("Ag")[3]) + 3
    width = max(im.width, *(int(measure.textlength(t, font=font)) + 2 * PAD for t in lines))
    out = Image.new("RGB", (width, im.height + 2 * PAD + line_h * len(lines)), "white")
    out.paste(im, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, t in enumerate(lines):
        draw.text((PAD, im.height + PAD + i * line_h), t, fill="black", font=font)
    return out


def side_by_side(panels: list[Image.Image]) -> bytes:
    """The panels in a row, top-aligned, ``GAP`` px apart: PNG bytes."""
    from PIL import Image

    sheet = Image.new(
        "RGB", (sum(p.width for p in panels) + GAP * (len(panels) - 1), max(p.height for p in panels)), "white"
    )
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width + GAP
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


def _quality(num_bytes: int, ms: float | None, h: int, w: int) -> str:
    return f"{num_bytes * 8 / (h * w):.3f} bpp, MS-SSIM {fmt(ms, 4)}"


def render(sheet: Sheet, worker: Worker, ours: str) -> bytes:
    """Code the image again at the sheet's settings and draw the PNG."""
    from PIL import Image

    from ..imageio import image_from_array, load_image, to_uint8
    from ..metrics import ms_ssim

    img = load_image(str(sheet.image))
    _, _, h, w = img.tensor.shape
    x, y, cw, ch = detail_window(to_uint8(img.tensor, 1), CROP_SIDE)

    def cut(a: np.ndarray) -> np.ndarray:
        return a[y : y + ch, x : x + cw]

    original = ["original", f"{sheet.image.name}, {w}x{h}", f"crop {cw}x{ch} at ({x}, {y})"]
    panels = [panel(cut(to_uint8(img.tensor, img.color_channels)), original)]
    rt = cvqn_round_trip(worker.model(sheet.ours.source), img, worker.device)
    quality = _quality(len(rt.data), ms_ssim(img.tensor, rt.decoded), h, w)
    panels.append(panel(cut(to_uint8(rt.decoded, 3)), [f"{ours} {sheet.ours.setting}", quality]))
    rgb = to_uint8(img.tensor, 3)  # what the codecs were given in the run
    ref, source = image_from_array(rgb).tensor, Image.fromarray(rgb)
    by_label = {c.label: c for c in CODECS.values()}
    for r in sheet.others:
        codec = by_label[r.codec]
        codec.load()
        data, out, _, _ = conventional_round_trip(codec, source, codec.settings[int(r.order)], worker.threads)
        quality = _quality(len(data), ms_ssim(ref, image_from_array(out).tensor), h, w)
        panels.append(panel(cut(out), [f"{r.codec} {r.setting}", quality]))
    return side_by_side(panels)


def write_crops(
    result: BenchResult, folder: str, device: str = "cpu", progress: Callable[[], None] | None = None
) -> list[Path]:
    """One PNG per image and rate point of ours into ``folder`` (created), written one at a time."""
    from .outputs import write_files

    worker = Worker(device)
    written = []
    for sheet in plan(result):
        written += write_files(folder, {sheet.name: render(sheet, worker, result.ours)})
        if progress is not None:
            progress()
    return written
