"""The report folder of ``cvq analyze``: influence.csv/.json, summary.txt and the two figures (PNG, SVG or
PDF; docs/ANALYZE.md).

Numbers come from :mod:`.channels`, pictures from :mod:`.figures`; this module lays them out and writes
them. Channels are 0-based (as in ``cvq info``'s channel order), groups 1-based (as in ``cvq info``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import torch

from ..errors import OutputError
from ..imageio import write_atomic
from ..metrics import MS_SSIM_MIN_SIDE
from ..text import fmt, plural
from ..weights import LoadedModel
from .channels import InfluenceSummary
from .figures import check_matplotlib, influence_figure
from .latent import channels_figure


def report_files(fmt: str = "png") -> tuple[str, ...]:
    """The files written into the report folder, in this order, with the figures as ``fmt``."""
    return (f"channels.{fmt}", "influence.csv", "influence.json", f"influence.{fmt}", "summary.txt")


FILES = report_files("png")  # the default: PNG figures
CSV_COLUMNS = ("channel", "group", "levels", "psnr_loss_db", "ms_ssim_loss", "ms_ssim_loss_db", "bits")
MIN_SIDE = f"{MS_SSIM_MIN_SIDE} px"


# ------------------------------------------------------------------------------------- CSV / JSON
def model_meta(loaded: LoadedModel) -> dict:
    """The ``model`` entry of influence.json: name, weights id, preset, C, levels, group sizes, importance."""
    p = loaded.model.preset
    return {
        "name": loaded.name,
        "weights_id": loaded.weights_id.hex(),
        "preset": p.name,
        "channels": p.latent_channels,
        "levels": list(p.levels),
        "group_channels": list(loaded.model.controller.group_channels),
        "importance": p.importance,
    }


def channel_rows(summary: InfluenceSummary) -> list[dict]:
    return [
        {
            "channel": c,
            "group": int(summary.group[c]) + 1,
            "levels": int(summary.levels[c]),
            "psnr_loss_db": float(summary.psnr_loss[c]),
            "ms_ssim_loss": float(summary.ms_ssim_loss[c]),
            "ms_ssim_loss_db": float(summary.ms_ssim_db_loss[c]),
            "bits": float(summary.bits[c]),
        }
        for c in range(summary.channels)
    ]


def influence_csv(summary: InfluenceSummary) -> bytes:
    """One row per channel; NaN (MS-SSIM n/a) is written as 'nan', which float() reads back."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(CSV_COLUMNS)
    for r in channel_rows(summary):
        wr.writerow(
            [r["channel"], r["group"], r["levels"]]
            + [repr(r[k]) if math.isfinite(r[k]) else str(r[k]).lower() for k in CSV_COLUMNS[3:]]
        )
    return buf.getvalue().encode()


def group_rows(summary: InfluenceSummary) -> list[dict]:
    total = summary.total_bits
    symbols = summary.latent_positions
    return [
        {
            "group": g + 1,
            "levels": lv,
            "channels": ch,
            "bits": b,
            "share": b / total if total > 0 else None,
            "bits_per_symbol": b / (ch * symbols) if ch * symbols > 0 else None,
        }
        for g, (lv, ch, b) in enumerate(zip(summary.group_levels, summary.group_channels, summary.group_bits))
    ]


def _finite_only(o):
    """``o`` with every non-finite float (MS-SSIM n/a, a perfect reconstruction) replaced by None."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite_only(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite_only(v) for v in o]
    return o


def influence_json(summary: InfluenceSummary, meta: dict) -> bytes:
    """Everything in one document: ``meta`` first, then the numbers; non-finite numbers are null."""
    doc = dict(meta)
    doc.update(
        {
            "images": summary.images,
            "ms_ssim_images": summary.ms_ssim_images,
            "image_names": summary.names,
            "image_sizes": [list(s) for s in summary.sizes],
            "baseline": {
                "psnr_db": summary.base_psnr,
                "ms_ssim": summary.base_ms_ssim,
                "ms_ssim_db": summary.ms_ssim_db,
                "estimated_bits": summary.total_bits,
                "estimated_bpp": summary.bpp,
            },
            "image_dependent_order": summary.image_dependent_order,
            "permutation": [int(v) for v in summary.first_permutation],
            "groups": group_rows(summary),
            "columns": list(CSV_COLUMNS),
            "channels": channel_rows(summary),
        }
    )
    return (json.dumps(_finite_only(doc), indent=2, allow_nan=False) + "\n").encode()


# ------------------------------------------------------------------------------------ summary.txt
def _header(summary: InfluenceSummary, meta: dict) -> list[str]:
    """What was analyzed, with which model, and the unmodified reconstruction."""
    m = meta.get("model", {})
    levels = ",".join(map(str, summary.group_levels))
    if summary.images == 1:
        w, h = summary.sizes[0]
        first = (
            f"{summary.names[0]}: {w}x{h}, model {m.get('name', '?')} (C={summary.channels}, "
            f"levels {levels}, {m.get('importance', '?')} importance)"
        )
    else:
        ms_note = (
            f"MS-SSIM n/a: no image of at least {MIN_SIDE}"
            if summary.ms_ssim_images == 0
            else f"MS-SSIM over the {summary.ms_ssim_images} of at least {MIN_SIDE}"
        )
        first = (
            f"{meta.get('dataset', 'dataset')}: {plural(summary.images, 'image')} (averages; {ms_note}), "
            f"model {m.get('name', '?')} (C={summary.channels}, levels {levels})"
        )
    ms = (
        f"n/a (image < {MIN_SIDE})"
        if math.isnan(summary.base_ms_ssim)
        else f"{summary.base_ms_ssim:.4f} ({fmt(summary.ms_ssim_db, 2)} dB)"
    )
    return [
        first,
        f"reconstruction: PSNR {fmt(summary.base_psnr, 2)} dB, MS-SSIM {ms}, estimated {summary.bpp:.4f} bpp",
    ]


def _ranking(summary: InfluenceSummary, top: int) -> list[str]:
    """The ``top`` most and least influential channels, by the MS-SSIM loss in dB (PSNR where n/a)."""
    use_ms = bool(torch.isfinite(summary.ms_ssim_db_loss).any())
    key = summary.ms_ssim_db_loss if use_ms else summary.psnr_loss
    # NaN sorts as least influential; ties keep channel order.
    k = torch.where(torch.isnan(key), torch.full_like(key, -math.inf), key)
    order = torch.sort(-k, stable=True).indices.tolist()
    n = min(top, summary.channels)
    ranking = "MS-SSIM loss (dB)" if use_ms else "PSNR loss (MS-SSIM n/a)"
    head = f"  {'channel':>7} {'group':>5} {'levels':>6} {'PSNR loss dB':>12} {'MS-SSIM loss dB':>15} {'bits':>10}"

    def row(c: int) -> str:
        return (
            f"  {c:>7} {int(summary.group[c]) + 1:>5} {int(summary.levels[c]):>6} "
            f"{fmt(float(summary.psnr_loss[c])):>12} {fmt(float(summary.ms_ssim_db_loss[c])):>15} "
            f"{float(summary.bits[c]):>10.1f}"
        )

    return (
        [f"most influential channels (zeroed one at a time, ranked by {ranking}):", head]
        + [row(c) for c in order[:n]]
        + ["least influential channels:", head]
        + [row(c) for c in reversed(order[-n:])]
    )


def _rate(summary: InfluenceSummary) -> list[str]:
    """Estimated bits per group and in total."""
    per = " per image" if summary.images > 1 else ""
    lines = [f"estimated bits{per} by group (context model):"]
    for r in group_rows(summary):
        share = "" if r["share"] is None else f" ({100 * r['share']:.1f} %)"
        bps = "" if r["bits_per_symbol"] is None else f", {r['bits_per_symbol']:.3f} bits/symbol"
        lines.append(
            f"  group {r['group']}: {r['channels']:>3} ch x {r['levels']:>2} levels {r['bits']:>12.1f} bits{share}{bps}"
        )
    lines.append(f"  total: {summary.total_bits:.1f} bits, {summary.bpp:.4f} bpp (without the file header)")
    return lines


def summary_text(summary: InfluenceSummary, meta: dict, top: int = 5) -> str:
    """The one-screen summary printed by ``cvq analyze`` (and saved as summary.txt)."""
    return "\n".join(_header(summary, meta) + _ranking(summary, top) + _rate(summary)) + "\n"


# -------------------------------------------------------------------------------------- the folder
def check_folder(path: str, force: bool) -> Path:
    """Refuse a file, or a non-empty folder without ``force``; call before any work. Creates nothing."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise OutputError(f"{path}: folder is not empty (use --force to overwrite)")
    return p


def write_report(
    path: str, summary: InfluenceSummary, meta: dict, force: bool, fmt: str = "png"
) -> tuple[list[Path], str]:
    """Render every file first, then create the folder and write each file atomically, the figures as
    ``fmt`` (png, svg or pdf). ``meta`` (tool, version, model, title, image or dataset) heads the JSON,
    which also lists the files; its title heads the figures. Returns (paths written, summary text)."""
    check_matplotlib()
    title = meta.get("title", "")
    text = summary_text(summary, meta)
    files = report_files(fmt)
    rendered = (
        channels_figure(summary, title, fmt),
        influence_csv(summary),
        influence_json(summary, {**meta, "files": list(files)}),
        influence_figure(summary, title, fmt),
        text.encode(),
    )
    folder = check_folder(path, force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create folder: {exc.strerror or exc}") from None
    written = []
    for name, data in zip(files, rendered):
        write_atomic(str(folder / name), data, force=True)
        written.append(folder / name)
    return written, text
