"""``cvq encode --effort``: refined files decode with any decoder; bad values are usage errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cvqncodec import codec, container
from cvqncodec.cli import main
from cvqncodec.weights import load_weights


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("bad", ["0", "10", "x"])
def test_effort_out_of_range_is_a_usage_error(work, bad):
    d, w = work
    r = run("encode", str(d / "photo.png"), "-o", str(d / "x.cvq"), "-m", w, "--effort", bad)
    assert r.exit_code == 2 and "effort" in r.stderr
    assert not (d / "x.cvq").exists()


def test_refined_file_decodes_to_its_symbols_and_says_its_effort(work):
    d, w = work
    r = run("encode", str(d / "photo.png"), "-o", str(d / "e3.cvq"), "-m", w, "-e", "3")
    assert r.exit_code == 0, r.output
    assert "effort 3" in r.stderr
    r = run("decode", str(d / "e3.cvq"), "-o", str(d / "e3.png"), "-m", w)
    assert r.exit_code == 0, r.output
    loaded = load_weights(w)
    data = (d / "e3.cvq").read_bytes()
    _, latent = codec.decode(loaded, *container.unpack(data))
    assert codec.pack_latent(loaded, latent, 40, 56) == data  # the decoder recovered every symbol


@pytest.mark.parametrize(
    "args",
    [["--bpp", "-1"], ["--bpp", "0"], ["--size", "0"], ["--bpp", "0.5", "--size", "100"], ["--bpp", "0.5", "-q", "2"]],
)
def test_bad_rate_targets_are_usage_errors(work, args):
    d, w = work
    extra = [] if "-q" in args else ["-m", w]
    r = run("encode", str(d / "photo.png"), "-o", str(d / "x.cvq"), *extra, *args)
    assert r.exit_code == 2, r.output
    assert not (d / "x.cvq").exists()


def test_size_lands_on_a_reachable_target_and_refuses_an_unreachable_one(work):
    d, w = work
    run("encode", str(d / "photo.png"), "-o", str(d / "plain.cvq"), "-m", w)
    plain = (d / "plain.cvq").stat().st_size
    r = run("encode", str(d / "photo.png"), "-o", str(d / "sized.cvq"), "-m", w, "--size", str(plain), "-v")
    assert r.exit_code == 0, r.output
    assert abs((d / "sized.cvq").stat().st_size - plain) <= 0.03 * plain
    assert "rate control" in r.stderr
    r = run("encode", str(d / "photo.png"), "-o", str(d / "tiny.cvq"), "-m", w, "--size", "5")
    assert r.exit_code == 2 and "out of reach" in r.stderr
    assert not (d / "tiny.cvq").exists()


def test_a_missed_target_is_a_warning_without_verbose(work, monkeypatch):
    """A reachable target that rate control cannot meet within 3 % still gets the nearest file, and says so on
    stderr without -v (here rate control is told it missed)."""
    from cvqncodec import rate_control

    real = rate_control.encode_to_size

    def missing(*args, **kwargs):
        found = real(*args, **kwargs)
        found.reached = False
        return found

    monkeypatch.setattr(rate_control, "encode_to_size", missing)
    d, w = work
    run("encode", str(d / "photo.png"), "-o", str(d / "plain.cvq"), "-m", w)
    plain = (d / "plain.cvq").stat().st_size
    r = run("encode", str(d / "photo.png"), "-o", str(d / "sized.cvq"), "-m", w, "--size", str(plain))
    assert r.exit_code == 0, r.output
    assert "cvq: warning:" in r.stderr and "not within 3 %" in r.stderr
    assert (d / "sized.cvq").exists()
    r = run("encode", str(d / "photo.png"), "-o", str(d / "quiet.cvq"), "-m", w, "--size", str(plain), "--quiet")
    assert r.exit_code == 0 and "warning" not in r.stderr
