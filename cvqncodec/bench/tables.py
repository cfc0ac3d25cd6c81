"""The text ``cvq bench`` prints on stdout: the summary, per-image, matched-bpp and BD-rate tables."""

from __future__ import annotations

from collections.abc import Sequence

from ..text import fmt, format_table, plural
from .bd import BDResult, bd_rates
from .matching import Match, match_bpp
from .records import BenchResult, Point, Record

#: Columns after the identifying ones, in both the summary and the per-image table.
_MEASURES = ["bpp", "PSNR", "MS-SSIM", "MS-SSIM dB", "enc s", "dec s", "error R/G/B", "chroma Cb/Cr"]


def _measures(x: Point | Record) -> list[str]:
    return [
        fmt(x.bpp, 4),
        fmt(x.psnr, 2),
        fmt(x.ms_ssim, 4),
        fmt(x.ms_ssim_db, 2),
        fmt(x.enc_s, 3),
        fmt(x.dec_s, 3),
        "-" if x.colour_error is None else "/".join(f"{v:+.1f}" for v in x.colour_error),
        "-" if x.chroma_spread is None else "/".join(fmt(v, 3) for v in x.chroma_spread),
    ]


def summary_table(curves: dict[str, list[Point]]) -> str:
    """One row per rate point: the means over the images."""
    rows = [[p.codec, p.setting, str(p.images), *_measures(p)] for points in curves.values() for p in points]
    return format_table(["codec", "setting", "images", *_MEASURES], rows, left=2)


def per_image_table(records: Sequence[Record]) -> str:
    """One row per image and setting."""
    rows = [[r.codec, r.setting, r.image, str(r.num_bytes), *_measures(r)] for r in records]
    return format_table(["codec", "setting", "image", "bytes", *_MEASURES], rows, left=3)


def match_table(matches: Sequence[Match], ours: str) -> str:
    rows = [
        [
            m.ours,
            m.codec,
            str(m.images),
            fmt(m.bpp_ours, 4),
            fmt(m.bpp_theirs, 4),
            f"{m.ms_ssim_diff:+.4f}",
            f"{m.ms_ssim_db_diff:+.2f}",
        ]
        for m in matches
    ]
    return format_table([ours, "codec", "images", "bpp ours", "bpp theirs", "dMS-SSIM", "dMS-SSIM dB"], rows, left=2)


def _bd_cell(r: BDResult) -> str:
    if r.value is None or r.interval is None:
        return f"n/a ({r.note})"
    return f"{r.value:+.1f} % (over {r.interval[0]:.2f}-{r.interval[1]:.2f} dB)"


def bd_table(rows: Sequence[tuple[str, BDResult, BDResult]], ours: str) -> str:
    notes = sorted({r.note for _, a, b in rows for r in (a, b) if r.value is not None})
    table = format_table(
        ["anchor", f"BD-rate of {ours}, MS-SSIM dB", "BD-rate, PSNR"],
        [[c, _bd_cell(a), _bd_cell(b)] for c, a, b in rows],
        left=3,
    )
    return table + ("\n(negative: fewer bits for the same quality; " + "; ".join(notes) + ")" if notes else "")


def render_report(
    result: BenchResult, folder: str, per_image: bool = False, matched: bool = False, bd_method: str = "akima"
) -> str:
    """Everything printed on stdout."""
    parts = [
        f"Means over {plural(len(result.images), 'image')} of {folder}; MS-SSIM dB = -10 log10(1 - mean MS-SSIM).",
        summary_table(result.curves),
    ]
    if per_image:
        parts += ["", "Per image:", per_image_table(result.records)]
    if result.codecs and result.ours in result.curves:
        if matched:
            parts += [
                "",
                f"Matched bpp (per image, the setting of each codec nearest to {result.ours}'s bpp; "
                "differences are ours - theirs):",
                match_table(match_bpp(result.records, result.ours, result.codecs), result.ours),
            ]
        parts += [
            "",
            "Bjøntegaard delta rate:",
            bd_table(bd_rates(result.curves, result.ours, result.codecs, bd_method), result.ours),
        ]
    return "\n".join(parts)
