"""cvq decode writes the format its output's extension names (or --format), and refuses an extension with no
format (exit 2) before any work."""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec.cli import main


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture()
def coded(work):
    d, w = work
    assert run("encode", d / "photo.png", "-m", w, "--quiet").exit_code == 0
    assert run("decode", d / "photo.cvq", "-o", d / "ref.png", "-m", w, "--quiet").exit_code == 0
    return d, w, np.asarray(Image.open(d / "ref.png"))


@pytest.mark.parametrize(
    "ext,fmt", [("jpg", "JPEG"), ("JPEG", "JPEG"), ("webp", "WEBP"), ("tif", "TIFF"), ("ppm", "PPM"), ("bmp", "BMP")]
)
def test_the_extension_names_the_format(coded, ext, fmt):
    d, w, ref = coded
    out = d / f"out.{ext}"
    assert run("decode", d / "photo.cvq", "-o", out, "-m", w).exit_code == 0
    im = Image.open(out)
    assert im.format == fmt
    a = np.asarray(im.convert("RGB"), dtype=np.int16)
    if fmt == "JPEG":  # high quality, 4:4:4
        assert np.abs(a - ref).mean() < 6  # the test image is mostly noise
    else:  # lossless (WebP too)
        assert np.array_equal(a, ref)


def test_unknown_or_missing_extension_is_a_usage_error(coded):
    d, w, _ = coded
    for name in ("out.xyz", "out"):
        r = run("decode", d / "photo.cvq", "-o", d / name, "-m", w)
        assert r.exit_code == 2 and "no image format" in r.stderr
        assert not (d / name).exists()
    assert run("decode", d / "photo.cvq", "-o", d / "out", "--format", "png", "-m", w).exit_code == 0
    assert Image.open(d / "out").format == "PNG"
    r = run("decode", d / "photo.cvq", "-o", d / "o.jpg", "--format", "png", "-m", w)
    assert r.exit_code == 2 and not (d / "o.jpg").exists()


def test_format_on_stdout_and_for_default_names(coded):
    d, w, _ = coded
    data = (d / "photo.cvq").read_bytes()
    r = CliRunner().invoke(main, ["decode", "-", "-o", "-", "--format", "jpg", "-m", w], input=data)
    assert r.exit_code == 0 and Image.open(io.BytesIO(r.stdout_bytes)).format == "JPEG"
    assert run("decode", d / "photo.cvq", "--format", "bmp", "-m", w).exit_code == 0
    assert Image.open(d / "photo.bmp").format == "BMP"


def test_greyscale_in_every_format(work):
    d, w = work
    assert run("encode", d / "grey.png", "-m", w).exit_code == 0
    for ext in ("png", "jpg", "tif", "pgm", "bmp"):
        assert run("decode", d / "grey.cvq", "-o", d / f"g.{ext}", "-m", w).exit_code == 0
        assert Image.open(d / f"g.{ext}").mode == "L", ext
