"""The files of ``cvq analyze``: channels.png, influence.csv/.json/.png and summary.txt.

Numbers come from :mod:`cvqncodec.analysis`; this module only lays them out. Pictures are drawn with
Pillow's ImageDraw; influence.png uses matplotlib when it is importable (the ``bench`` extra) and Pillow
otherwise. Channels are 0-based (as in ``cvq info``'s channel order), groups 1-based (as in ``cvq info``).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from .analysis import InfluenceSummary
from .errors import OutputError
from .imageio import write_atomic

#: Files written into the report folder, in this order.
FILES = ("channels.png", "influence.csv", "influence.json", "influence.png", "summary.txt")
CSV_COLUMNS = ("channel", "group", "levels", "psnr_loss_db", "ms_ssim_loss", "ms_ssim_loss_db", "bits")

#: Group colours (colour-blind friendly, Okabe-Ito), reused cyclically.
GROUP_COLOURS = [(0, 114, 178), (230, 159, 0), (0, 158, 115), (204, 121, 167), (213, 94, 0),
                 (86, 180, 233), (240, 228, 66), (0, 0, 0)]
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
GRID = (210, 210, 210)


def group_colour(g: int) -> tuple[int, int, int]:
    return GROUP_COLOURS[g % len(GROUP_COLOURS)]


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _fmt(v: float, digits: int = 3) -> str:
    v = float(v)
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.{digits}f}"


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _text_width(draw: ImageDraw.ImageDraw, text: str, font) -> int:
    return int(math.ceil(draw.textlength(text, font=font)))


# ----------------------------------------------------------------------------------- channels.png
def channel_tiles(z_hat: torch.Tensor, group: torch.Tensor, level_range: list[tuple[float, float]]
                  ) -> list[Image.Image]:
    """One greyscale image per channel: values stretched to 0..255 per channel; a constant channel gets
    the grey of its value within ``level_range`` of its group (the values the group takes; mid-grey
    where the whole group is constant)."""
    tiles = []
    for c in range(z_hat.shape[0]):
        v = z_hat[c].double()
        lo, hi = float(v.min()), float(v.max())
        if hi > lo:
            a = (v - lo) / (hi - lo)
        else:
            glo, ghi = level_range[int(group[c])]
            a = torch.full_like(v, 0.5 if ghi <= glo else min(1.0, max(0.0, (lo - glo) / (ghi - glo))))
        tiles.append(Image.fromarray((a * 255).round().to(torch.uint8).numpy()))  # 2-D uint8: mode L
    return tiles


def _tile_size(h: int, w: int, minimum: int = 64, maximum: int = 192) -> tuple[int, int]:
    """Display size of a latent channel: integer nearest-neighbour upscaling of small latents up to
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
    tile framed in its group's colour, labelled 'c<index> q<levels>'."""
    z = summary.first_z_hat
    group = summary.first_group
    c_total, h, w = z.shape
    level_range = [(float(lo), float(hi)) for lo, hi in summary_level_ranges(summary)]
    tiles = channel_tiles(z, group, level_range)
    tw, th = _tile_size(h, w)
    font = _font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_h = 14
    frame = 3
    labels = [f"c{c} q{summary.group_levels[int(group[c])]}" for c in range(c_total)]
    cell_w = max(tw + 2 * frame, max(_text_width(probe, s, font) for s in labels) + 4)
    cell_h = label_h + th + 2 * frame
    gap = 6
    cols = min(c_total, 8)
    rows = math.ceil(c_total / cols)
    legend = [f"group {g + 1}: {summary.group_channels[g]} ch x {summary.group_levels[g]} levels"
              for g in range(len(summary.group_levels))]
    header_lines = [t for t in (title, f"quantized latent {c_total} x {h} x {w} (value range stretched per "
                                       "channel)") if t]
    header_h = 6 + 15 * len(header_lines) + 18
    legend_w = sum(_text_width(probe, s, font) + 28 for s in legend)
    width = max(gap + cols * (cell_w + gap), legend_w + 2 * gap,
                max(_text_width(probe, s, font) for s in header_lines) + 2 * gap)
    height = header_h + rows * (cell_h + gap) + gap
    im = Image.new("RGB", (width, height), BACKGROUND)
    d = ImageDraw.Draw(im)
    y = 6
    for line in header_lines:
        d.text((gap, y), line, fill=INK, font=font)
        y += 15
    x = gap
    for g, s in enumerate(legend):
        d.rectangle([x, y + 2, x + 12, y + 12], fill=group_colour(g))
        d.text((x + 16, y), s, fill=INK, font=font)
        x += _text_width(d, s, font) + 28
    for c in range(c_total):
        r, k = divmod(c, cols)
        x0 = gap + k * (cell_w + gap)
        y0 = header_h + r * (cell_h + gap)
        colour = group_colour(int(group[c]))
        d.text((x0 + 1, y0), labels[c], fill=colour, font=font)
        fx = x0 + (cell_w - tw - 2 * frame) // 2
        fy = y0 + label_h
        d.rectangle([fx, fy, fx + tw + 2 * frame - 1, fy + th + 2 * frame - 1], fill=colour)
        tile = tiles[c].resize((tw, th), Image.NEAREST if tw >= w else Image.BOX)
        im.paste(tile.convert("RGB"), (fx + frame, fy + frame))
    return _png(im)


def summary_level_ranges(summary: InfluenceSummary) -> list[tuple[float, float]]:
    """(min, max) dequantized value seen per group in the first image (for constant channels)."""
    out = []
    for g in range(len(summary.group_levels)):
        vals = summary.first_z_hat[summary.first_group == g]
        out.append((float(vals.min()), float(vals.max())) if vals.numel() else (0.0, 0.0))
    return out


# ----------------------------------------------------------------------------------- influence.png
def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k apart) covering [lo, hi]."""
    span = hi - lo
    raw = span / max(1, target - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    i0 = math.floor(lo / step + 1e-9)
    i1 = math.ceil(hi / step - 1e-9)
    return [0.0 if i == 0 else i * step for i in range(i0, i1 + 1)]


def _tick_label(v: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{v:.{decimals}f}" if decimals <= 6 else f"{v:.1e}"


def _bars_pillow(d: ImageDraw.ImageDraw, box: tuple[int, int, int, int], values: list[float],
                 groups: list[int], title: str, font) -> None:
    x0, y0, x1, y1 = box
    d.text((x0, y0), title, fill=INK, font=font)
    top, bottom = y0 + 22, y1 - 18
    right = x1 - 8
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        left = x0 + 50
        d.rectangle([left, top, right, bottom], outline=GRID)
        msg = "n/a (MS-SSIM needs images of at least 161 px per side)"
        d.text((left + 10, (top + bottom) // 2 - 6), msg, fill=INK, font=font)
        return
    lo, hi = min(0.0, min(finite)), max(0.0, max(finite))
    if hi == lo:
        hi = lo + 1.0
    ticks = nice_ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    step = ticks[1] - ticks[0] if len(ticks) > 1 else hi - lo
    labels = [_tick_label(v, step) for v in ticks]
    left = x0 + max(_text_width(d, s, font) for s in labels) + 10

    def ypos(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    for v, label in zip(ticks, labels):  # y ticks and grid
        y = ypos(v)
        d.line([left, y, right, y], fill=GRID)
        d.text((left - 5 - _text_width(d, label, font), y - 6), label, fill=INK, font=font)
    n = len(values)
    slot = (right - left) / n
    bw = max(1.0, slot * 0.75)
    zero = ypos(0.0)
    every = max(1, math.ceil(n * 22 / (right - left)))  # label every few channels so labels fit
    for c, (v, g) in enumerate(zip(values, groups)):
        cx = left + slot * (c + 0.5)
        if math.isfinite(v):
            ya, yb = sorted((zero, ypos(v)))
            d.rectangle([cx - bw / 2, ya, cx + bw / 2, max(ya, yb)], fill=group_colour(g))
        else:
            d.text((cx - 3, top), "?" if math.isnan(v) else "^", fill=INK, font=font)
        if c % every == 0:
            label = str(c)
            d.text((cx - _text_width(d, label, font) / 2, bottom + 3), label, fill=INK, font=font)
    d.line([left, zero, right, zero], fill=INK)
    d.line([left, top, left, bottom], fill=INK)


def influence_png(summary: InfluenceSummary, title: str = "", use_matplotlib: bool | None = None) -> bytes:
    """Bar charts of the PSNR loss and the MS-SSIM loss in dB per channel (Fig. 1 bottom), bars coloured
    by group. ``use_matplotlib``: None = when importable."""
    psnr = [float(v) for v in summary.psnr_loss]
    msdb = [float(v) for v in summary.ms_ssim_db_loss]
    groups = [int(g) for g in summary.group]
    titles = ("PSNR loss per channel (dB)", "MS-SSIM loss per channel (dB, -10 log10(1 - MS-SSIM))")
    if use_matplotlib is None:
        try:
            import matplotlib  # noqa: F401
            use_matplotlib = True
        except ImportError:
            use_matplotlib = False
    if use_matplotlib:
        try:
            return _influence_matplotlib(psnr, msdb, groups, summary, titles, title)
        except Exception:  # a broken matplotlib install: fall back to Pillow
            pass
    n = len(psnr)
    width = max(720, 70 + 14 * n)
    panel = 230
    header = 44
    im = Image.new("RGB", (width, header + 2 * panel + 10), BACKGROUND)
    d = ImageDraw.Draw(im)
    font = _font(11)
    if title:
        d.text((10, 6), title, fill=INK, font=font)
    x = 10
    for g, lv in enumerate(summary.group_levels):
        s = f"group {g + 1} ({lv} levels)"
        d.rectangle([x, 26, x + 12, 36], fill=group_colour(g))
        d.text((x + 16, 24), s, fill=INK, font=font)
        x += _text_width(d, s, font) + 30
    _bars_pillow(d, (10, header, width - 10, header + panel), psnr, groups, titles[0], font)
    _bars_pillow(d, (10, header + panel + 6, width - 10, header + 2 * panel), msdb, groups, titles[1], font)
    return _png(im)


def _influence_matplotlib(psnr, msdb, groups, summary, titles, title) -> bytes:
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    from matplotlib.patches import Patch

    n = len(psnr)
    fig = Figure(figsize=(max(7.2, 0.16 * n + 1.5), 5.6), dpi=100)
    axes = fig.subplots(2, 1)
    colours = [tuple(v / 255 for v in group_colour(g)) for g in groups]
    for ax, values, t in zip(axes, (psnr, msdb), titles):
        finite = [v if math.isfinite(v) else 0.0 for v in values]
        ax.set_title(t, fontsize=10, loc="left")
        if not any(math.isfinite(v) for v in values):
            ax.text(0.5, 0.5, "n/a (MS-SSIM needs images of at least 161 px per side)",
                    ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.bar(range(n), finite, color=colours, width=0.75)
        ax.axhline(0, color="black", linewidth=0.8)
        step = max(1, math.ceil(n / 40))
        ax.set_xticks(range(0, n, step))
        ax.set_xlim(-0.6, n - 0.4)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", color="#d2d2d2", linewidth=0.6)
        ax.set_axisbelow(True)
    axes[-1].set_xlabel("channel", fontsize=9)
    handles = [Patch(color=tuple(v / 255 for v in group_colour(g)), label=f"group {g + 1} ({lv} levels)")
               for g, lv in enumerate(summary.group_levels)]
    fig.legend(handles=handles, loc="upper right", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ------------------------------------------------------------------------------------- CSV / JSON
def channel_rows(summary: InfluenceSummary) -> list[dict]:
    return [{"channel": c, "group": int(summary.group[c]) + 1, "levels": int(summary.levels[c]),
             "psnr_loss_db": float(summary.psnr_loss[c]), "ms_ssim_loss": float(summary.ms_ssim_loss[c]),
             "ms_ssim_loss_db": float(summary.ms_ssim_db_loss[c]), "bits": float(summary.bits[c])}
            for c in range(summary.channels)]


def influence_csv(summary: InfluenceSummary) -> bytes:
    """One row per channel; NaN (MS-SSIM n/a) is written as 'nan', which float() reads back."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(CSV_COLUMNS)
    for r in channel_rows(summary):
        wr.writerow([r["channel"], r["group"], r["levels"]]
                    + [repr(r[k]) if math.isfinite(r[k]) else str(r[k]).lower()
                       for k in ("psnr_loss_db", "ms_ssim_loss", "ms_ssim_loss_db", "bits")])
    return buf.getvalue().encode()


def group_rows(summary: InfluenceSummary) -> list[dict]:
    total = summary.total_bits
    symbols = summary.latent_positions
    rows = []
    for g, (lv, ch, b) in enumerate(zip(summary.group_levels, summary.group_channels, summary.group_bits)):
        rows.append({"group": g + 1, "levels": lv, "channels": ch, "bits": b,
                     "share": b / total if total > 0 else None,
                     "bits_per_symbol": b / (ch * symbols) if ch * symbols > 0 else None})
    return rows


def influence_json(summary: InfluenceSummary, meta: dict) -> bytes:
    """Everything in one document; non-finite numbers (MS-SSIM n/a) are null."""
    def clean(o):
        if isinstance(o, float):
            return _finite(o)
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    doc = dict(meta)
    doc.update({
        "images": summary.images, "ms_ssim_images": summary.ms_ssim_images,
        "image_names": summary.names, "image_sizes": [list(s) for s in summary.sizes],
        "baseline": {"psnr_db": summary.base_psnr, "ms_ssim": summary.base_ms_ssim,
                     "ms_ssim_db": summary.ms_ssim_db, "estimated_bits": summary.total_bits,
                     "estimated_bpp": summary.bpp},
        "image_dependent_order": summary.image_dependent_order,
        "permutation": [int(v) for v in summary.first_permutation],
        "groups": group_rows(summary),
        "columns": list(CSV_COLUMNS),
        "channels": channel_rows(summary),
    })
    return (json.dumps(clean(doc), indent=2, allow_nan=False) + "\n").encode()


# ------------------------------------------------------------------------------------ summary.txt
def summary_text(summary: InfluenceSummary, meta: dict, top: int = 5) -> str:
    """The one-screen summary printed by ``cvq analyze`` (and saved as summary.txt)."""
    m = meta.get("model", {})
    lines = []
    if summary.images == 1:
        w, h = summary.sizes[0]
        lines.append(f"{summary.names[0]}: {w}x{h}, model {m.get('name', '?')} (C={summary.channels}, "
                     f"levels {','.join(map(str, summary.group_levels))}, {m.get('importance', '?')} importance)")
    else:
        ms_note = ("MS-SSIM n/a: no image of at least 161 px" if summary.ms_ssim_images == 0 else
                   f"MS-SSIM over the {summary.ms_ssim_images} of at least 161 px")
        lines.append(f"{meta.get('dataset', 'dataset')}: {summary.images} images (averages; {ms_note}), "
                     f"model {m.get('name', '?')} (C={summary.channels}, "
                     f"levels {','.join(map(str, summary.group_levels))})")
    ms = ("n/a (image < 161 px)" if math.isnan(summary.base_ms_ssim)
          else f"{summary.base_ms_ssim:.4f} ({_fmt(summary.ms_ssim_db, 2)} dB)")
    lines.append(f"reconstruction: PSNR {_fmt(summary.base_psnr, 2)} dB, MS-SSIM {ms}, "
                 f"estimated {summary.bpp:.4f} bpp")
    use_ms = bool(torch.isfinite(summary.ms_ssim_db_loss).any())
    key = summary.ms_ssim_db_loss if use_ms else summary.psnr_loss
    # NaN sorts as least influential; ties keep channel order.
    k = torch.where(torch.isnan(key), torch.full_like(key, -math.inf), key)
    order = torch.sort(-k, stable=True).indices.tolist()
    n = min(top, summary.channels)
    ranking = "MS-SSIM loss (dB)" if use_ms else "PSNR loss (MS-SSIM n/a)"
    head = f"  {'channel':>7} {'group':>5} {'levels':>6} {'PSNR loss dB':>12} {'MS-SSIM loss dB':>15} {'bits':>10}"

    def row(c: int) -> str:
        return (f"  {c:>7} {int(summary.group[c]) + 1:>5} {int(summary.levels[c]):>6} "
                f"{_fmt(summary.psnr_loss[c]):>12} {_fmt(summary.ms_ssim_db_loss[c]):>15} "
                f"{float(summary.bits[c]):>10.1f}")

    lines.append(f"most influential channels (zeroed one at a time, ranked by {ranking}):")
    lines.append(head)
    lines += [row(c) for c in order[:n]]
    lines.append("least influential channels:")
    lines.append(head)
    lines += [row(c) for c in reversed(order[-n:])]
    per = " per image" if summary.images > 1 else ""
    lines.append(f"estimated bits{per} by group (context model):")
    for r in group_rows(summary):
        share = "" if r["share"] is None else f" ({100 * r['share']:.1f} %)"
        bps = "" if r["bits_per_symbol"] is None else f", {r['bits_per_symbol']:.3f} bits/symbol"
        lines.append(f"  group {r['group']}: {r['channels']:>3} ch x {r['levels']:>2} levels "
                     f"{r['bits']:>12.1f} bits{share}{bps}")
    lines.append(f"  total: {summary.total_bits:.1f} bits, {summary.bpp:.4f} bpp (without the file header)")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------- the folder
def check_folder(path: str, force: bool) -> Path:
    """Refuse a file, or a non-empty folder without ``force``; call before any work. Creates nothing."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise OutputError(f"{path}: folder is not empty (use --force to overwrite)")
    return p


def write_report(path: str, summary: InfluenceSummary, meta: dict, force: bool,
                 use_matplotlib: bool | None = None) -> tuple[list[Path], str]:
    """Render every file first, then create the folder and write each file atomically.
    Returns (paths written, summary text)."""
    title = meta.get("title", "")
    text = summary_text(summary, meta)
    contents = {
        "channels.png": channels_png(summary, title),
        "influence.csv": influence_csv(summary),
        "influence.json": influence_json(summary, meta),
        "influence.png": influence_png(summary, title, use_matplotlib),
        "summary.txt": text.encode(),
    }
    folder = check_folder(path, force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create folder: {exc.strerror or exc}") from None
    written = []
    for name in FILES:
        target = folder / name
        write_atomic(str(target), contents[name], force=True)
        written.append(target)
    return written, text
