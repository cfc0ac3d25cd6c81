"""The report folder of ``cvq analyze``: cvqncodec.analyze.report."""

from __future__ import annotations

import dataclasses
import math
import sys

import pytest

from cvqncodec.analyze import CSV_COLUMNS, FILES, check_folder, summary_text, write_report
from cvqncodec.errors import OutputError, UsageError
from cvqncodec.metrics import MS_SSIM_MIN_SIDE

META = {"tool": "cvq analyze", "model": {"name": "tiny-test", "importance": "predefined"}, "title": "t", "image": "a"}


def test_write_report(small_summary, read_report, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "nested" / "report"
    written, text = write_report(str(out), small_summary, META, force=False)
    assert [p.name for p in written] == list(FILES) and sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert (out / "summary.txt").read_text() == text
    rows, doc = read_report(out)
    assert list(rows[0]) == list(CSV_COLUMNS) and [int(r["channel"]) for r in rows] == list(range(8))
    assert all(r["ms_ssim_loss"] == "nan" and r["ms_ssim_loss_db"] == "nan" for r in rows)  # 24 x 40 px
    assert list(doc)[:5] == ["tool", "model", "title", "image", "files"]  # meta heads the document
    assert doc["baseline"]["ms_ssim"] is None and all(c["ms_ssim_loss_db"] is None for c in doc["channels"])
    assert doc["baseline"]["estimated_bits"] == pytest.approx(sum(float(r["bits"]) for r in rows))
    assert doc["image_sizes"] == [[40, 24]] and doc["permutation"] == list(range(8))


def test_without_matplotlib_nothing_is_written(small_summary, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError):
        write_report(str(tmp_path / "report"), small_summary, META, force=False)
    assert not (tmp_path / "report").exists()


def test_summary_text(small_summary):
    text = summary_text(small_summary, META)
    lines = text.splitlines()
    assert lines[0] == "a: 40x24, model tiny-test (C=8, levels 3,5,7, predefined importance)"
    assert f"MS-SSIM n/a (image < {MS_SSIM_MIN_SIDE} px)" in lines[1]
    assert "ranked by PSNR loss (MS-SSIM n/a)" in lines[2]
    assert lines[4].split()[4] == "n/a"  # the MS-SSIM column of a ranked channel
    assert lines[-1].startswith("  total: ") and lines[-1].endswith(" bpp (without the file header)")
    assert len(lines) == 2 + 2 * (2 + 5) + 1 + 3 + 1

    two = dataclasses.replace(small_summary, images=2, names=["a", "b"], sizes=[(40, 24), (40, 24)])
    text = summary_text(two, {**META, "dataset": "data"})
    assert text.startswith(f"data: 2 images (averages; MS-SSIM n/a: no image of at least {MS_SSIM_MIN_SIDE} px)")
    assert "estimated bits per image by group" in text
    one_ms = dataclasses.replace(two, ms_ssim_images=1, base_ms_ssim=0.5)
    text = summary_text(one_ms, {**META, "dataset": "data"})
    assert f"MS-SSIM over the 1 of at least {MS_SSIM_MIN_SIDE} px" in text
    assert f"MS-SSIM 0.5000 ({10 * math.log10(2):.2f} dB)" in text


def test_check_folder(tmp_path):
    assert check_folder(str(tmp_path / "new"), force=False) == tmp_path / "new"
    assert not (tmp_path / "new").exists()  # creates nothing
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        check_folder(str(tmp_path / "file"), force=True)
    with pytest.raises(OutputError, match="--force"):
        check_folder(str(tmp_path), force=False)
    assert check_folder(str(tmp_path), force=True) == tmp_path
