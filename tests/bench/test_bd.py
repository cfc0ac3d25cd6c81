"""Bjøntegaard delta rates: known answers, the cubic fallback, overlap and too few points."""

from __future__ import annotations

import math
import sys

import pytest

from cvqncodec.bench import Point, bd_rate, bd_rate_cubic, bd_rates

# A typical MS-SSIM (dB) curve: quality rising with log rate.
RATES = [0.08, 0.15, 0.25, 0.4, 0.6, 0.9]
QUALITY = [9.0 + 4.0 * math.log2(r / 0.08) - 0.2 * math.log2(r / 0.08) ** 2 for r in RATES]


@pytest.mark.parametrize("method", ["akima", "pchip", "cubic"])
def test_bd_rate_of_a_curve_with_every_rate_scaled(method):
    cheaper = [0.9 * r for r in RATES]
    res = bd_rate(RATES, QUALITY, cheaper, QUALITY, method)
    assert res.value == pytest.approx(-10.0, abs=1e-6)
    assert res.interval == (pytest.approx(QUALITY[0]), pytest.approx(QUALITY[-1]))
    assert bd_rate(RATES, QUALITY, [1.25 * r for r in RATES], QUALITY, method).value == pytest.approx(25.0)
    assert bd_rate(RATES, QUALITY, RATES, QUALITY, method).value == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_cubic_fallback_without_the_package(monkeypatch):
    assert bd_rate_cubic(RATES, QUALITY, [0.9 * r for r in RATES], QUALITY) == pytest.approx(-10.0)
    monkeypatch.setitem(sys.modules, "bjontegaard", None)  # import fails
    res = bd_rate(RATES, QUALITY, [0.9 * r for r in RATES], QUALITY, "akima")
    assert res.value == pytest.approx(-10.0) and "not installed" in res.note


def test_bd_rate_partial_overlap_uses_the_common_interval():
    # The test curve covers only the upper half of the anchor's quality range (still 4 points).
    rates = [0.08, 0.12, 0.18, 0.25, 0.4, 0.6, 0.9]
    q = [10 + 5 * math.log2(r / 0.08) for r in rates]  # straight line in log rate: exact for any fit
    res = bd_rate(rates, q, [0.8 * r for r in rates[3:]], q[3:], "pchip")
    assert res.value == pytest.approx(-20.0)
    assert res.interval == (pytest.approx(q[3]), pytest.approx(q[-1]))


def test_bd_rate_needs_four_points_and_overlap():
    res = bd_rate(RATES, QUALITY, RATES[:3], QUALITY[:3], names=("JPEG", "CVQN"))
    assert res.value is None and "CVQN has 3 usable points, needs >= 4" in res.note
    res = bd_rate(RATES, QUALITY, RATES, [q + 50 for q in QUALITY], names=("JPEG", "CVQN"))
    assert res.value is None and res.note.startswith("no overlap")
    # A point that is worse than a lower-rate one is not usable; undefined quality neither.
    res = bd_rate(RATES, QUALITY, RATES[:3] + [1.0, 2.0], QUALITY[:3] + [QUALITY[1], None])
    assert res.value is None and res.note == "test has 3 usable points, needs >= 4"
    res = bd_rate(RATES, QUALITY, RATES[:1], QUALITY[:1], names=("JPEG", "CVQN"))
    assert res.note == "CVQN has 1 usable point, needs >= 4"


def test_bd_rates_of_our_curve_against_each_codec():
    def curve(codec, scale):
        return [
            Point(codec, str(r), str(r), 1, scale * r, q + 20, 1 - 10 ** (-q / 10), 0.0, 0.0)
            for r, q in zip(RATES, QUALITY)
        ]

    curves = {"CVQN": curve("CVQN", 0.9), "JPEG": curve("JPEG", 1.0), "WebP": curve("WebP", 0.9)}
    rows = bd_rates(curves, "CVQN", ["JPEG", "WebP"], "pchip")
    assert [c for c, _, _ in rows] == ["JPEG", "WebP"]
    (_, jpeg_ms, jpeg_psnr), (_, webp_ms, _) = rows
    assert jpeg_ms.value == pytest.approx(-10.0) and jpeg_psnr.value == pytest.approx(-10.0)
    assert webp_ms.value == pytest.approx(0.0, abs=1e-6)
