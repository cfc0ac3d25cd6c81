"""Option names: -q is the quality (as in cwebp and cjxl), --quiet is long only everywhere, -Q is a deprecated
alias of -q for one release, and -h is --help."""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from cvqncodec.cli import main

COMMANDS = ("encode", "decode", "info", "models", "train", "bench", "analyze")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_q_is_the_quality(work, monkeypatch):
    d, w = work
    picked = []
    module = importlib.import_module("cvqncodec.cli.encode")  # cvqncodec.cli.encode is the command
    monkeypatch.setattr(module, "cached_model", lambda *a: picked.append(a[:2]) or _stop())
    r = run("encode", "-q", 2, d / "photo.png", "-o", d / "a.cvq")
    assert r.exit_code == 1 and picked == [(None, 2)]
    assert run("encode", "-q", 9, d / "photo.png").exit_code == 2
    assert run("encode", "-q", 3, "-m", w, d / "photo.png").exit_code == 2  # both: a usage error
    assert run("encode", d / "photo.png", "-q").exit_code == 2  # -q needs a value: it is no longer --quiet


def _stop():
    raise RuntimeError("stop here")


def test_capital_q_still_works_with_a_note(work):
    d, w = work
    r = run("encode", "-Q", 2, d / "photo.png", "-o", d / "a.cvq", "-m", w)
    assert r.exit_code == 2 and "not both" in r.output  # -Q is -q: with -m a usage error
    r = run("encode", "-Q", 9, d / "photo.png")
    assert r.exit_code == 2
    assert "-Q" not in run("encode", "--help").output  # hidden


def test_capital_q_note(work, tmp_path, monkeypatch):
    d, w = work
    monkeypatch.setenv("CVQ_WEIGHTS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    from tests.helpers import make_weights

    make_weights(tmp_path / "models" / "q2.safetensors", name="cvqn-q2")
    r = run("encode", "-Q", 2, d / "photo.png", "-o", d / "a.cvq")
    assert r.exit_code == 0, r.output
    assert "-Q is deprecated" in r.stderr and "(cvqn-q2," in r.stderr
    r = run("encode", "-Q", 2, d / "photo.png", "-o", d / "b.cvq", "--quiet")
    assert r.exit_code == 0 and r.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_h_is_help_and_quiet_is_long_only(command):
    r = run(command, "-h")
    assert r.exit_code == 0 and r.output.startswith(f"Usage: main {command}")
    if command not in ("info", "models"):
        assert "--quiet" in r.output and "-q, --quiet" not in r.output
    if command in ("encode", "analyze"):
        assert "-q, --quality" in r.output


def test_group_help():
    r = run("-h")
    assert r.exit_code == 0 and "encode" in r.output and "Exit codes" in r.output
    assert "8 the torchac backend cannot be built" in " ".join(r.output.split())
