"""Bjøntegaard delta rate: the average bit saving of one rate-quality curve against another."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..text import plural
from .records import Point

#: Bjøntegaard deltas need at least this many usable points on each curve.
BD_MIN_POINTS = 4


@dataclass
class BDResult:
    #: Average rate difference of test against anchor in percent (negative: test needs fewer bits).
    value: float | None
    #: Why there is no value, or how it was computed.
    note: str
    #: Quality interval the rates were averaged over.
    interval: tuple[float, float] | None = None


def _usable(rates: Sequence[float], dists: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """Points sorted by rate keeping only those better than every lower-rate point (a monotone curve)."""
    pts = sorted(
        (r, d)
        for r, d in zip(rates, dists)
        if d is not None and math.isfinite(d) and r is not None and math.isfinite(r) and r > 0
    )
    out_r: list[float] = []
    out_d: list[float] = []
    for r, d in pts:
        if not out_d or (d > out_d[-1] and r > out_r[-1]):
            out_r.append(r)
            out_d.append(d)
    return out_r, out_d


def bd_rate_cubic(
    rate_anchor: Sequence[float], dist_anchor: Sequence[float], rate_test: Sequence[float], dist_test: Sequence[float]
) -> float:
    """Bjøntegaard's original BD-rate (VCEG-M33): fit log10(rate) as a cubic polynomial of the quality for
    each curve, integrate both over the common quality interval, return (10^mean difference - 1) x 100 %."""
    la, lt = np.log10(np.asarray(rate_anchor, float)), np.log10(np.asarray(rate_test, float))
    da, dt = np.asarray(dist_anchor, float), np.asarray(dist_test, float)
    pa, pt = np.polyfit(da, la, 3), np.polyfit(dt, lt, 3)
    lo, hi = max(da.min(), dt.min()), min(da.max(), dt.max())
    ia, it = np.polyint(pa), np.polyint(pt)
    avg = ((np.polyval(it, hi) - np.polyval(it, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (hi - lo)
    return float((10.0**avg - 1.0) * 100.0)


def bd_rate(
    rate_anchor: Sequence[float],
    dist_anchor: Sequence[float | None],
    rate_test: Sequence[float],
    dist_test: Sequence[float | None],
    method: str = "akima",
    names: tuple[str, str] = ("anchor", "test"),
    unit: str = "dB",
) -> BDResult:
    """BD-rate of the test curve against the anchor (negative: the test codec saves bits).

    Uses the ``bjontegaard`` package (``method``: 'akima', 'pchip' or 'cubic'); without it, the cubic
    polynomial fit of :func:`bd_rate_cubic`. Only curves with >= 4 usable points (monotone in quality)
    that overlap in quality get a value; the rates are averaged over the common quality interval.
    """
    ra, da = _usable(rate_anchor, dist_anchor)
    rt, dt = _usable(rate_test, dist_test)
    for name, r in ((names[1], rt), (names[0], ra)):
        if len(r) < BD_MIN_POINTS:
            return BDResult(None, f"{name} has {plural(len(r), 'usable point')}, needs >= {BD_MIN_POINTS}")
    lo, hi = max(da[0], dt[0]), min(da[-1], dt[-1])
    if hi <= lo:
        return BDResult(
            None, f"no overlap: {names[1]} {dt[0]:.2f}-{dt[-1]:.2f} {unit}, {names[0]} {da[0]:.2f}-{da[-1]:.2f} {unit}"
        )
    try:
        import bjontegaard
    except ImportError:
        return BDResult(bd_rate_cubic(ra, da, rt, dt), "cubic fit (bjontegaard package not installed)", (lo, hi))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bjontegaard.bd_rate(ra, da, rt, dt, method=method, require_matching_points=False, min_overlap=0)
    return BDResult(float(value), f"bjontegaard {getattr(bjontegaard, '__version__', '?')}, {method}", (lo, hi))


def bd_rates(
    curves: dict[str, list[Point]], ours: str, codecs: Sequence[str], method: str = "akima"
) -> list[tuple[str, BDResult, BDResult]]:
    """(codec, BD-rate in MS-SSIM dB, BD-rate in PSNR) of our curve against each codec's."""
    mine = curves.get(ours, [])
    out = []
    for codec in codecs:
        theirs = curves.get(codec, [])
        by_ms_ssim, by_psnr = (
            bd_rate(
                [p.bpp for p in theirs],
                [getattr(p, attr) for p in theirs],
                [p.bpp for p in mine],
                [getattr(p, attr) for p in mine],
                method,
                names=(codec, ours),
                unit="dB",
            )
            for attr in ("ms_ssim_db", "psnr")
        )
        out.append((codec, by_ms_ssim, by_psnr))
    return out
