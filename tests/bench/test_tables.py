"""The stdout tables."""

from __future__ import annotations

from pathlib import Path

from cvqncodec.bench import BenchResult, render_report, summarize
from tests.bench.helpers import rec


def result(codecs: list[str]) -> BenchResult:
    records = [
        rec("CVQN", "q1", "a.png", 0.20, 0.95),
        rec("JPEG", "q=1", "a.png", 0.25, 0.92),
        rec("JPEG", "q=5", "a.png", 0.50, None, order=1),
    ]
    return BenchResult([Path("a.png")], records, summarize(records, ["CVQN", "JPEG"]), {}, "CVQN", codecs)


def test_report_tables():
    out = render_report(result(["JPEG"]), "photos", per_image=True, matched=True)
    lines = out.splitlines()
    assert lines[0] == "Means over 1 image of photos; MS-SSIM dB = -10 log10(1 - mean MS-SSIM)."
    assert lines[1].split() == [
        "codec",
        "setting",
        "images",
        "bpp",
        "PSNR",
        "MS-SSIM",
        "MS-SSIM",
        "dB",
        "enc",
        "s",
        "dec",
        "s",
        "error",
        "R/G/B",
        "chroma",
        "Cb/Cr",
    ]
    assert lines[3].split() == ["CVQN", "q1", "1", "0.2000", "30.00", "0.9500", "13.01", "0.500", "0.250", "-", "-"]
    assert lines[5].split()[-6:] == ["n/a", "n/a", "0.500", "0.250", "-", "-"]
    assert "Per image:" in lines and "Matched bpp" in out and "Bjøntegaard delta rate:" in lines
    assert lines[-1].split()[:2] == ["JPEG", "n/a"] and "CVQN has 1 usable point, needs >= 4" in lines[-1]
    matched = lines[lines.index("Bjøntegaard delta rate:") - 2].split()
    assert matched == ["q1", "JPEG", "1", "0.2000", "0.2500", "+0.0300", "+2.04"]


def test_report_without_codecs_has_only_the_summary():
    out = render_report(result([]), "photos", matched=True)
    assert len(out.splitlines()) == 1 + 2 + 3 and "Bjøntegaard" not in out
