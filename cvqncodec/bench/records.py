"""What a bench run measures: one Record per image and setting, Points (means per rate point), the run's
result, and the CompressAI-style JSON of it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def ms_ssim_in_db(value: float | None) -> float | None:
    """MS-SSIM in dB (-10 log10(1 - MS-SSIM)); None when MS-SSIM is undefined."""
    from ..metrics import ms_ssim_db  # imports torch: only when needed

    return None if value is None else ms_ssim_db(value)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    v = list(values)
    return float(sum(v) / len(v)) if v else float("nan")


@dataclass
class Record:
    """One image coded at one setting."""

    codec: str  # curve name: "CVQN", "JPEG", ...
    setting: str  # model name, "q=50", "0.25 bpp", ...
    source: str  # what identifies the rate point: the model file, or the setting
    order: float  # sort key of the setting within its codec
    image: str
    height: int
    width: int
    num_bytes: int
    bpp: float
    psnr: float
    ms_ssim: float | None
    enc_s: float
    dec_s: float
    detail: str = ""  # weights id for CVQN
    #: Mean signed error of R, G, B in 8-bit levels (decoded - original) and the chroma spread (std of Cb and
    #: Cr, BT.601, decoded / original; None for grey originals): metrics.colour_error and chroma_spread.
    colour_error: tuple[float, float, float] | None = None
    chroma_spread: tuple[float | None, float | None] | None = None

    @property
    def ms_ssim_db(self) -> float | None:
        return ms_ssim_in_db(self.ms_ssim)


@dataclass
class Point:
    """Means over the images of one rate point (one model, one codec quality)."""

    codec: str
    setting: str
    source: str
    images: int
    bpp: float
    psnr: float
    ms_ssim: float | None
    enc_s: float
    dec_s: float
    #: Means over the images of Record.colour_error and Record.chroma_spread (None where none was measured).
    colour_error: tuple[float, float, float] | None = None
    chroma_spread: tuple[float | None, float | None] | None = None

    @property
    def ms_ssim_db(self) -> float | None:
        """MS-SSIM in dB of the mean MS-SSIM (what a CompressAI-style plot of the JSON shows)."""
        return ms_ssim_in_db(self.ms_ssim)

    def colour_column(self, i: int) -> float | None:
        return None if self.colour_error is None else self.colour_error[i]

    def chroma_column(self, i: int) -> float | None:
        return None if self.chroma_spread is None else self.chroma_spread[i]


@dataclass
class BenchResult:
    """Everything a run measured, ready for the tables, the JSON and the plot."""

    images: list[Path]
    records: list[Record]  # in the order of the per-image table
    curves: dict[str, list[Point]]  # {codec: points sorted by bpp}, ours first
    descriptions: dict[str, str]  # {codec: what ran, with versions}
    ours: str  # the models' curve name
    codecs: list[str] = field(default_factory=list)  # labels of the conventional codecs run


def _mean_columns(rows: list[tuple[float | None, ...]]) -> tuple[float | None, ...] | None:
    """Column means of ``rows``, each over its non-None values (None for a column without any)."""
    if not rows:
        return None
    cols = [[v for v in col if v is not None] for col in zip(*rows)]
    return tuple(mean(c) if c else None for c in cols)


def summarize(records: Sequence[Record], codec_order: Sequence[str] | None = None) -> dict[str, list[Point]]:
    """Group records into rate points: {codec: [Point sorted by mean bpp]}, codecs in ``codec_order``."""
    groups: dict[tuple[str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r.codec, r.source), []).append(r)
    curves: dict[str, list[Point]] = {}
    for (codec, source), rs in groups.items():
        ms = [r.ms_ssim for r in rs if r.ms_ssim is not None]
        curves.setdefault(codec, []).append(
            Point(
                codec,
                rs[0].setting,
                source,
                len(rs),
                mean(r.bpp for r in rs),
                mean(r.psnr for r in rs),
                mean(ms) if ms else None,
                mean(r.enc_s for r in rs),
                mean(r.dec_s for r in rs),
                _mean_columns([r.colour_error for r in rs if r.colour_error is not None]),
                _mean_columns([r.chroma_spread for r in rs if r.chroma_spread is not None]),
            )
        )
    for points in curves.values():
        labels = [p.setting for p in points]
        for p in points:  # two model files with the same internal name: tell them apart
            if labels.count(p.setting) > 1:
                p.setting = f"{p.setting} ({p.source})"
        points.sort(key=lambda p: p.bpp)
    order = list(codec_order or []) + sorted(c for c in curves if c not in (codec_order or []))
    return {c: curves[c] for c in order if c in curves}


def _json_number(x: float | None) -> float | None:
    """JSON has no inf/NaN: such values are written as null."""
    return None if x is None or not math.isfinite(x) else float(x)


#: CompressAI's result columns (and ours on colour, which its plot ignores) and how each is read from a Point.
COMPRESSAI_COLUMNS = {
    "bpp": lambda p: p.bpp,
    "psnr-rgb": lambda p: p.psnr,
    "ms-ssim-rgb": lambda p: p.ms_ssim,
    "encoding_time": lambda p: p.enc_s,
    "decoding_time": lambda p: p.dec_s,
    "mean-error-r": lambda p: p.colour_column(0),
    "mean-error-g": lambda p: p.colour_column(1),
    "mean-error-b": lambda p: p.colour_column(2),
    "chroma-spread-cb": lambda p: p.chroma_column(0),
    "chroma-spread-cr": lambda p: p.chroma_column(1),
}


def compressai_objects(curves: dict[str, list[Point]], descriptions: dict[str, str]) -> list[dict]:
    """One CompressAI results object per codec (``{"name", "description", "results": {column: [...]}}``),
    the shape ``python -m compressai.utils.plot -f FILE`` reads, one entry per rate point."""
    return [
        {
            "name": codec,
            "description": descriptions.get(codec, codec),
            "results": {key: [_json_number(column(p)) for p in points] for key, column in COMPRESSAI_COLUMNS.items()},
        }
        for codec, points in curves.items()
    ]


def compressai_results(curves: dict[str, list[Point]], descriptions: dict[str, str]) -> dict | list[dict]:
    """The combined ``--json FILE`` document: the one object of a single codec, else a list of them."""
    objs = compressai_objects(curves, descriptions)
    return objs[0] if len(objs) == 1 else objs


def results_json(result: BenchResult) -> str:
    """The ``--json FILE`` text (combined: a list when several codecs ran)."""
    return json.dumps(compressai_results(result.curves, result.descriptions), indent=2) + "\n"


def slug(name: str) -> str:
    """A file-name-safe form of a curve name: 'HEIF (HEVC)' -> 'heif-hevc', 'JPEG 2000' -> 'jpeg-2000'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "codec"


def unique_names(stems: Sequence[str], suffix: str) -> list[str]:
    """``stem + suffix`` for each stem, a ``-2``, ``-3``... added to repeats so that no two are equal."""
    out: list[str] = []
    for stem in stems:
        name, n = stem + suffix, 1
        while name in out:
            n += 1
            name = f"{stem}-{n}{suffix}"
        out.append(name)
    return out


def json_file_names(codecs: Sequence[str]) -> dict[str, str]:
    """{curve name: its ``--json-dir`` file name}, e.g. {"HEIF (HEVC)": "heif-hevc.json"}."""
    return dict(zip(codecs, unique_names([slug(c) for c in codecs], ".json")))


def results_files(result: BenchResult) -> dict[str, str]:
    """The ``--json-dir`` files: {file name: text}, one CompressAI results object per codec."""
    names = json_file_names(list(result.curves))
    return {
        names[obj["name"]]: json.dumps(obj, indent=2) + "\n"
        for obj in compressai_objects(result.curves, result.descriptions)
    }
