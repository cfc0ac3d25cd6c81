"""The cvq command: round trips, errors with their exit codes, and no output left behind on failure."""

import io
import json
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec import container
from cvqncodec.cli import main


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_encode_decode_round_trip(work):
    d, w = work
    r = run("encode", str(d / "photo.png"), "-o", str(d / "photo.cvq"), "--model", w, "-v")
    assert r.exit_code == 0, r.output
    assert "bytes" in r.stderr and "bpp" in r.stderr and "PSNR" in r.stderr
    r = run("decode", str(d / "photo.cvq"), "-o", str(d / "out.png"), "--model", w)
    assert r.exit_code == 0, r.output
    out = np.asarray(Image.open(d / "out.png"))
    assert out.shape == (40, 56, 3)
    r = run("info", str(d / "photo.cvq"))
    assert r.exit_code == 0 and "56x40" in r.stdout and "in 1 tile(s) of 64x64" in r.stdout
    info = json.loads(run("info", str(d / "photo.cvq"), "--json").stdout)
    assert (info["format_version"], info["tile"], info["tiles"]) == (4, 64, 1)


def test_greyscale_comes_back_greyscale(work):
    d, w = work
    assert run("encode", str(d / "grey.png"), "--model", w).exit_code == 0
    r = run("decode", str(d / "grey.cvq"), "--model", w)
    assert r.exit_code == 6  # the default output grey.png is the input: refused
    assert run("decode", str(d / "grey.cvq"), "-o", str(d / "grey-out.png"), "--model", w).exit_code == 0
    assert Image.open(d / "grey-out.png").mode == "L"


def test_stdin_and_stdout(work):
    d, w = work
    data = (d / "photo.png").read_bytes()
    r = CliRunner().invoke(main, ["encode", "-", "-o", "-", "--model", w, "--quiet"], input=data)
    assert r.exit_code == 0
    cvq = r.stdout_bytes
    assert cvq.startswith(container.MAGIC)
    container.unpack(cvq)
    r = CliRunner().invoke(main, ["decode", "-", "-o", "-", "--model", w, "--quiet"], input=cvq)
    assert r.exit_code == 0
    assert Image.open(io.BytesIO(r.stdout_bytes)).size == (56, 40)


def test_existing_output_is_refused_without_force(work):
    d, w = work
    (d / "photo.cvq").write_bytes(b"keep me")
    r = run("encode", str(d / "photo.png"), "--model", w)
    assert r.exit_code == 6 and "--force" in r.stderr
    assert (d / "photo.cvq").read_bytes() == b"keep me"
    assert run("encode", str(d / "photo.png"), "--model", w, "--force").exit_code == 0
    assert (d / "photo.cvq").read_bytes().startswith(container.MAGIC)


def files(d):
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize(
    "content,code", [(b"", 3), (b"not an image at all", 3), (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, 3)]
)
def test_bad_images(work, content, code):
    d, w = work
    (d / "bad.png").write_bytes(content)
    before = files(d)
    r = run("encode", str(d / "bad.png"), "--model", w)
    assert r.exit_code == code
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert files(d) == before


def test_missing_input_and_missing_weights(work):
    d, w = work
    r = run("encode", str(d / "nope.png"), "--model", w)
    assert r.exit_code == 3 and r.stderr.startswith("cvq: error:")
    r = run("encode", str(d / "photo.png"), "--model", str(d / "missing.safetensors"))
    assert r.exit_code == 7
    (d / "junk.safetensors").write_bytes(b"junk")
    r = run("encode", str(d / "photo.png"), "--model", str(d / "junk.safetensors"))
    assert r.exit_code == 7
    assert not (d / "photo.cvq").exists()


def test_corrupt_truncated_empty_and_foreign_files(work, tiny_se_weights):
    d, w = work
    assert run("encode", str(d / "photo.png"), "--model", w).exit_code == 0
    good = (d / "photo.cvq").read_bytes()
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x10
    other_version = bytearray(good)
    other_version[len(container.MAGIC)] = 9
    cases = {
        "trunc.cvq": (good[:-7], 4),
        "empty.cvq": (b"", 4),
        "flip.cvq": (bytes(flipped), 4),
        "png.cvq": ((d / "photo.png").read_bytes(), 4),
        "version.cvq": (bytes(other_version), 5),
    }
    for name, (data, code) in cases.items():
        (d / name).write_bytes(data)
        out = d / (name + ".png")
        r = run("decode", str(d / name), "-o", str(out), "--model", w)
        assert r.exit_code == code, (name, r.stderr)
        assert r.stderr.startswith("cvq: error:") and r.stderr.count("\n") == 1
        assert not out.exists()
    r = run("decode", str(d / "photo.cvq"), "-o", str(d / "x.png"), "--model", str(tiny_se_weights))
    assert r.exit_code == 5 and not (d / "x.png").exists()
    r = run("info", str(d / "trunc.cvq"))
    assert r.exit_code == 4


def test_usage_error_exit_code(work):
    d, w = work
    assert run("encode", str(d / "photo.png"), "--quality", "6").exit_code == 2
    assert run("encode", str(d / "photo.png"), "--quality", "0").exit_code == 2
    assert run("encode", str(d / "photo.png"), "--model", w, "--quality", "2").exit_code == 2


def test_installed_script_keeps_stdout_clean(work, cvq_exe):
    """One real run of the installed console script: stdout carries only the .cvq bytes."""
    d, w = work
    p = subprocess.run(
        [cvq_exe, "encode", str(d / "photo.png"), "-o", "-", "--model", w], capture_output=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(container.MAGIC)
    container.unpack(p.stdout)
    assert b"bpp" in p.stderr


def test_installed_script_without_a_compiler(tmp_path, cvq_exe):
    """One real run: an empty torchac cache and no C++ compiler give exit 8, one line, nothing on stdout."""
    Image.new("RGB", (16, 16)).save(tmp_path / "a.png")
    env = {"TORCH_EXTENSIONS_DIR": str(tmp_path / "cache"), "CXX": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    p = subprocess.run(
        [cvq_exe, "encode", str(tmp_path / "a.png"), "-o", "-"], capture_output=True, env=env, timeout=300
    )
    assert p.returncode == 8, p.stderr
    assert p.stdout == b""
    assert p.stderr.startswith(b"cvq: error: no C++ compiler found") and p.stderr.count(b"\n") == 1


def test_a_file_cannot_make_the_decoder_load_a_path(work, tmp_path):
    """The model name in a .cvq header is looked up among installed models, never opened as a path."""
    d, w = work
    from cvqncodec import codec
    from cvqncodec.weights import load_weights
    from tests.helpers import image_tensor

    loaded = load_weights(w)
    loaded.name = w  # a header naming a weights file by its path
    (d / "named.cvq").write_bytes(codec.encode(loaded, image_tensor(20, 20)).data)
    r = run("decode", str(d / "named.cvq"), "-o", str(d / "named.png"))
    assert r.exit_code == 7 and "no model named" in r.stderr
    assert not (d / "named.png").exists()
    assert run("decode", str(d / "named.cvq"), "-o", str(d / "named.png"), "--model", w).exit_code == 0
