"""Many files at once: outputs named after the inputs (beside them or in -d DIR), failures reported while the
other files are still coded, the highest failing exit code, one summary line, -j worker processes."""

from __future__ import annotations

import subprocess

import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec import container
from cvqncodec.cli import main
from cvqncodec.cli.batch import Job, Outcome, attempt, plan_jobs, summary
from cvqncodec.errors import OutputError
from tests.helpers import synthetic_image


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def photos(work):
    d, w = work
    folder = d / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_image(24 + 8 * i, 32, seed=i)).save(folder / f"p{i}.png")
    return folder, w


def test_encode_into_outdir_and_decode_back(photos, tmp_path):
    folder, w = photos
    out = tmp_path / "out" / "nested"  # created, with its parents
    r = run("encode", *sorted(folder.iterdir()), "-d", out, "-m", w)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["p0.cvq", "p1.cvq", "p2.cvq"]
    assert r.stdout == ""  # stdout carries data only
    assert "cvq encode: 3 of 3 files in" in r.stderr and "bpp" in r.stderr
    r = run("decode", out, "-d", tmp_path / "png", "-m", w)  # a folder: its .cvq files
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert Image.open(tmp_path / "png" / "p2.png").size == (32, 40)
    assert "cvq decode: 3 of 3 files" in r.stderr


def test_outputs_beside_the_inputs_by_default(photos):
    folder, w = photos
    assert run("encode", folder / "p0.png", folder / "p1.png", "-m", w, "--quiet").exit_code == 0
    assert (folder / "p0.cvq").exists() and (folder / "p1.cvq").exists()
    r = run("decode", folder / "p0.cvq", folder / "p1.cvq", "--format", "webp", "-m", w, "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    assert Image.open(folder / "p1.webp").format == "WEBP"


def test_failures_do_not_stop_the_others_and_the_worst_code_wins(photos, tmp_path):
    folder, w = photos
    (folder / "bad.png").write_bytes(b"not an image")  # exit 3
    out = tmp_path / "out"
    out.mkdir()
    (out / "p1.cvq").write_bytes(b"keep")  # exit 6 without --force
    r = run("encode", folder, "-d", out, "-m", w)
    assert r.exit_code == 6
    assert (out / "p1.cvq").read_bytes() == b"keep"
    assert (out / "p0.cvq").read_bytes().startswith(container.MAGIC)
    assert (out / "p2.cvq").read_bytes().startswith(container.MAGIC)
    assert not (out / "bad.cvq").exists()
    assert "bad.png: not a supported image file" in r.stderr and "p1.cvq: already exists" in r.stderr
    assert "2 of 4 files" in r.stderr and "2 failed (exit 6)" in r.stderr
    (out / "broken.cvq").write_bytes(b"garbage")
    r = run("decode", out, "-d", tmp_path / "dec", "-m", w)
    assert r.exit_code == 4 and "2 of 4 files" in r.stderr and "2 failed (exit 4)" in r.stderr  # p1.cvq: "keep"


def test_usage_errors_before_any_work(photos, tmp_path):
    folder, w = photos
    a, b = folder / "p0.png", folder / "p1.png"
    assert run("encode", a, b, "-o", tmp_path / "x.cvq", "-m", w).exit_code == 2  # -o names one file
    assert run("encode", a, "-o", tmp_path / "x.cvq", "-d", tmp_path, "-m", w).exit_code == 2
    assert run("encode", a, "-", "-m", w).exit_code == 2  # stdin only alone
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(synthetic_image(8, 8)).save(other / "p0.png")
    r = run("encode", a, other / "p0.png", "-d", tmp_path / "out", "-m", w)
    assert r.exit_code == 2 and "would both be written" in r.output
    assert not (tmp_path / "out").exists()
    (tmp_path / "file").write_bytes(b"")
    assert run("encode", a, b, "-d", tmp_path / "file", "-m", w).exit_code == 6


def test_plan_jobs_names_outputs_after_inputs(tmp_path):
    jobs, batch = plan_jobs(["a/x.png", "b/y.jpg"], None, "out", ".cvq", lambda p: [])
    assert batch and jobs == [Job("a/x.png", "out/x.cvq"), Job("b/y.jpg", "out/y.cvq")]
    jobs, batch = plan_jobs(["a/x.png"], None, None, ".cvq", lambda p: [])
    assert not batch and jobs == [Job("a/x.png", "a/x.cvq")]
    assert plan_jobs(["-"], None, None, ".cvq", lambda p: []) == ([Job("-", "-")], False)
    (tmp_path / "one").mkdir()
    jobs, batch = plan_jobs([str(tmp_path / "one")], None, None, ".cvq", lambda p: [p / "z.png"])
    assert batch and jobs == [Job(str(tmp_path / "one" / "z.png"), str(tmp_path / "one" / "z.cvq"))]


def test_attempt_turns_failures_into_outcomes():
    def fails(job):
        raise OutputError("out.cvq: already exists")

    def bug(job):
        raise ZeroDivisionError("boom")

    o = attempt(fails, Job("in.png", "out.cvq"))
    assert o.exit_code == 6 and o.message == "in.png: out.cvq: already exists"
    assert attempt(bug, Job("in.png", "out.cvq")).exit_code == 1
    line = summary("cvq encode", [Outcome(Job("a", "b"), 0, size=100, pixels=800), o], 1.25, 2, lambda ok: "x")
    assert line == "cvq encode: 1 of 2 files in 1.2 s (2 processes), x; 1 failed (exit 6)"


def test_installed_script_with_worker_processes(photos, tmp_path, cvq_exe):
    """One real run: two spawned workers, a failing file, the summary on stderr, nothing on stdout."""
    folder, w = photos
    (folder / "bad.png").write_bytes(b"")
    args = [cvq_exe, "encode", str(folder), "-d", str(tmp_path / "out"), "-j", "2", "-m", w]
    p = subprocess.run(args, capture_output=True, timeout=600)
    assert p.returncode == 3, p.stderr
    assert p.stdout == b""
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["p0.cvq", "p1.cvq", "p2.cvq"]
    assert b"3 of 4 files" in p.stderr and b"(2 processes)" in p.stderr and b"bad.png: empty file" in p.stderr
