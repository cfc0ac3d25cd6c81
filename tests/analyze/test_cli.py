"""``cvq analyze``: the report folder, dataset mode, bad input, usage errors, matplotlib missing."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec.analyze import CSV_COLUMNS, FILES, report_files
from cvqncodec.cli import main
from cvqncodec.metrics import MS_SSIM_MIN_SIDE
from tests.helpers import synthetic_image

SIDE = MS_SSIM_MIN_SIDE

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def images(tmp_path):
    Image.fromarray(synthetic_image(SIDE, SIDE + 3, seed=5)).save(tmp_path / "big.png")
    Image.fromarray(synthetic_image(30, 20, seed=6)).save(tmp_path / "small.png")


@pytest.fixture()
def work(tmp_path, tiny_weights):
    pytest.importorskip("matplotlib")  # the figures need it
    images(tmp_path)
    return tmp_path, str(tiny_weights)


def test_cli_writes_the_report(work, read_report):
    d, w = work
    out = d / "report"
    r = run("analyze", str(d / "big.png"), "--model", w, "-o", str(out), "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    rows, doc = read_report(out)
    assert [int(x["channel"]) for x in rows] == list(range(8))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert all(math.isfinite(float(x[k])) for x in rows for k in CSV_COLUMNS)
    assert {int(x["group"]) for x in rows} == {1, 2, 3}
    assert len(doc["channels"]) == 8 and doc["images"] == 1 and doc["ms_ssim_images"] == 1
    assert doc["baseline"]["estimated_bits"] == pytest.approx(sum(float(x["bits"]) for x in rows))
    assert sum(g["bits"] for g in doc["groups"]) == pytest.approx(doc["baseline"]["estimated_bits"])
    summary = (out / "summary.txt").read_text()
    assert r.stdout == summary
    assert "most influential" in summary and "least influential" in summary and "bpp" in summary
    assert len(summary.splitlines()) <= 25

    # A non-empty folder is refused before any work; --force overwrites the report files.
    before = (out / "influence.csv").read_bytes()
    r = run("analyze", str(d / "small.png"), "--model", w, "-o", str(out))
    assert r.exit_code == 6 and "--force" in r.stderr
    assert (out / "influence.csv").read_bytes() == before
    r = run("analyze", "-", "--model", w, "-o", str(out), "--force", "--quiet", input=(d / "small.png").read_bytes())
    assert r.exit_code == 0 and r.stdout == ""
    rows, doc = read_report(out)
    assert doc["image"] == "<stdin>" and doc["ms_ssim_images"] == 0
    assert all(x["ms_ssim_loss"] == "nan" and x["ms_ssim_loss_db"] == "nan" for x in rows)
    assert all(c["ms_ssim_loss_db"] is None for c in doc["channels"])
    assert "n/a" in (out / "summary.txt").read_text()


def test_cli_dataset_mode(work, read_report):
    d, w = work
    data = d / "data"
    data.mkdir()
    (d / "small.png").rename(data / "a.png")
    Image.fromarray(synthetic_image(24, 40, seed=7)[:, :, 0]).save(data / "b.png")  # greyscale
    (data / "notes.txt").write_text("not an image, and not read")
    out = d / "nested" / "report"
    r = run("analyze", "--dataset", str(data), "--model", w, "-o", str(out))
    assert r.exit_code == 0, r.output
    rows, doc = read_report(out)
    assert len(rows) == 8
    assert doc["images"] == 2 and doc["ms_ssim_images"] == 0 and doc["image_names"] == ["a.png", "b.png"]
    assert doc["image_sizes"] == [[20, 30], [40, 24]]
    assert all(math.isfinite(float(x["psnr_loss_db"])) and float(x["bits"]) > 0 for x in rows)
    with Image.open(out / "channels.png") as im:  # the first image's latent
        assert im.size[0] > 100
    assert "2 images" in r.stdout
    assert doc["title"].startswith("data (2 images; channels of a.png), model ")  # the folder's name only
    assert doc["dataset"] == str(data)


def test_cli_vector_figures_and_relative_titles(work, read_report, monkeypatch):
    """--format svg|pdf: both figures in that format, listed in the JSON; titles name the file, not its path."""
    d, w = work
    monkeypatch.chdir(d)
    for fmt in ("svg", "pdf"):
        out = d / f"report-{fmt}"
        r = run("analyze", str(d / "big.png"), "--model", w, "-o", str(out), "--format", fmt, "--quiet")
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in out.iterdir()) == sorted(report_files(fmt))
        _, doc = read_report(out, fmt)
        assert doc["title"] == "big.png, model tiny-test" and doc["image"] == str(d / "big.png")
        assert (out / "summary.txt").read_text().startswith("big.png: ")
    assert run("analyze", "big.png", "--model", w, "-o", "r", "--format", "gif").exit_code == 2


def test_installed_script_writes_a_pdf_report(work, read_report):
    """One real run of the installed console script."""
    d, w = work
    exe = shutil.which("cvq") or os.path.join(os.path.dirname(sys.executable), "cvq")
    assert os.path.exists(exe), "the cvq console script is not installed"
    args = [exe, "analyze", str(d / "small.png"), "--model", w, "-o", str(d / "rep"), "--format", "pdf"]
    p = subprocess.run(args, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"small.png: 20x30")
    read_report(d / "rep", "pdf")


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 30])
def test_bad_input_exit_3_and_no_report(work, content):
    d, w = work
    (d / "bad.png").write_bytes(content)
    r = run("analyze", str(d / "bad.png"), "--model", w, "-o", str(d / "report"))
    assert r.exit_code == 3 and r.stderr.startswith("cvq: error:") and r.stderr.count("\n") == 1
    assert not (d / "report").exists()
    data = d / "data"
    data.mkdir()
    (d / "small.png").rename(data / "a.png")
    (d / "bad.png").rename(data / "b.png")
    r = run("analyze", "--dataset", str(data), "--model", w, "-o", str(d / "report"))
    assert r.exit_code == 0 and f"note: skipped {data / 'b.png'}" in r.stderr  # issue #21, item 10
    assert (d / "report" / "summary.txt").exists()
    (data / "a.png").unlink()
    r = run("analyze", "--dataset", str(data), "--model", w, "-o", str(d / "report2"), "--quiet")
    assert r.exit_code == 3 and "no readable images" in r.stderr and not (d / "report2").exists()


def test_missing_inputs_and_usage(work):
    d, w = work
    r = run("analyze", str(d / "nope.png"), "--model", w, "-o", str(d / "rep"))
    assert r.exit_code == 3 and not (d / "rep").exists()
    (d / "empty").mkdir()
    for args in (["--dataset", str(d / "empty")], ["--dataset", str(d / "missing")]):
        r = run("analyze", *args, "--model", w, "-o", str(d / "rep"))
        assert r.exit_code == 3 and not (d / "rep").exists()
    assert run("analyze", "--model", w, "-o", str(d / "rep")).exit_code == 2
    assert run("analyze", str(d / "small.png"), "--dataset", str(d), "-o", str(d / "rep")).exit_code == 2
    (d / "file").write_text("x")
    assert run("analyze", str(d / "small.png"), "--model", w, "-o", str(d / "file")).exit_code == 6


def test_without_matplotlib_a_usage_error_before_any_work(tmp_path, monkeypatch):
    """As ``cvq bench --plot``: one line, exit 2, before the model is loaded (a missing one would exit 7)
    or the input read (exit 3); nothing is written."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    images(tmp_path)
    (tmp_path / "data").mkdir()
    missing = str(tmp_path / "no-such-model.safetensors")
    for source in ([str(tmp_path / "big.png")], ["--dataset", str(tmp_path / "data")], [str(tmp_path / "nope.png")]):
        r = run("analyze", *source, "--model", missing, "-o", str(tmp_path / "report"))
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("cvq: error:") and r.stderr.count("\n") == 1
        assert "pip install matplotlib" in r.stderr and "pip install 'cvqncodec[analyze]'" in r.stderr
        assert r.stdout == "" and not (tmp_path / "report").exists()
