"""Issue #21 through the command line: photos come back right, work is bounded by what the input justifies,
exit codes and output tell the truth (the library side is tested in tests/test_imageio.py, test_container.py,
test_weights.py, test_zoo.py, train/test_data.py)."""

import errno
import json
import subprocess
import sys

from click.testing import CliRunner
from PIL import Image

from cvqncodec import container
from cvqncodec.cli import main
from tests.helpers import synthetic_image
from tests.test_imageio import XMP, exif_bytes, icc_profile


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def photo(path, orientation=6, frames=1):
    """A 32 x 20 JPEG (shown 20 x 32) with an Adobe RGB profile, EXIF and XMP; or an animated GIF."""
    ims = [Image.fromarray(synthetic_image(20, 32, seed=i)) for i in range(frames)]
    if frames > 1:
        ims[0].save(path, save_all=True, append_images=ims[1:])
    else:
        ims[0].save(path, quality=95, icc_profile=icc_profile(), exif=exif_bytes(orientation), xmp=XMP)
    return path


def test_orientation_metadata_and_strip(work):  # items 1 and 2
    d, w = work
    src = photo(d / "p.jpg")
    r = run("encode", src, "-o", d / "p.cvq", "-m", w, "-v")
    assert r.exit_code == 0 and "EXIF orientation 6 applied" in r.stderr
    h, _ = container.unpack((d / "p.cvq").read_bytes())
    assert (h.width, h.height) == (20, 32) and h.metadata["icc"] == icc_profile()
    info = json.loads(run("info", d / "p.cvq", "--json").stdout)
    assert info["metadata"] == {k: len(v) for k, v in h.metadata.items()}
    assert run("decode", d / "p.cvq", "-o", d / "p.png", "-m", w).exit_code == 0
    out = Image.open(d / "p.png")
    assert out.size == (20, 32) and out.info["icc_profile"] == icc_profile() and out.getexif()[0x0112] == 1
    r = run("decode", d / "p.cvq", "-o", d / "p.ppm", "-m", w)
    assert r.exit_code == 0 and "cannot carry the ICC profile" in r.stderr
    assert run("encode", src, "-o", d / "s.cvq", "-m", w, "--strip").exit_code == 0
    assert container.unpack((d / "s.cvq").read_bytes())[0].metadata == {}


def test_animations_say_only_the_first_frame_is_coded(work):  # item 3
    d, w = work
    r = run("encode", photo(d / "a.gif", frames=3), "-o", d / "a.cvq", "-m", w)
    assert r.exit_code == 0 and "cvq: warning:" in r.stderr and "3 frames" in r.stderr


def test_shapes_the_format_cannot_carry_fail_at_once(work):  # items 5 and 6
    d, w = work
    Image.new("L", (1_100_000, 1)).save(d / "wide.png")
    r = run("encode", d / "wide.png", "-o", d / "wide.cvq", "-m", w)
    assert r.exit_code == 3 and "1 .. 1048560" in r.stderr and not (d / "wide.cvq").exists()
    Image.new("RGB", (60_000, 16)).save(d / "strip.png")  # refused by formats 2-3 (too elongated): tiles take it
    r = run("encode", d / "strip.png", "-o", d / "strip.cvq", "-m", w)
    assert r.exit_code == 0
    r = run("decode", d / "strip.cvq", "-o", d / "strip-decoded.png", "-m", w)
    assert r.exit_code == 0 and Image.open(d / "strip-decoded.png").size == (60_000, 16)


def test_unwritable_output_is_exit_6_before_any_work(work, monkeypatch):  # item 8
    import cvqncodec.imageio as imageio

    d, w = work

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(imageio.tempfile, "mkstemp", refuse)
    r = run("encode", d / "photo.png", "-o", d / "x.cvq", "-m", w)
    assert r.exit_code == 6 and "Read-only file system" in r.stderr and "bytes" not in r.stderr


def test_a_closed_stdout_is_quiet_exit_141(work):  # item 9
    d, w = work
    assert run("encode", d / "photo.png", "-o", d / "photo.cvq", "-m", w).exit_code == 0
    for args in (["info", d / "photo.cvq"], ["encode", d / "photo.png", "-o", "-", "-m", w]):
        p = subprocess.Popen(
            [sys.executable, "-m", "cvqncodec", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        p.stdout.close()  # as `| head -c 0` does
        stderr = p.stderr.read()
        assert p.wait(timeout=300) == 141 and stderr == b"", stderr


def test_header_strings_are_printed_escaped(work):  # item 11
    d, w = work
    assert run("encode", d / "photo.png", "-o", d / "photo.cvq", "-m", w).exit_code == 0
    h, streams = container.unpack((d / "photo.cvq").read_bytes())
    h.model_name = "evil\x1b[2J\x1b]0;owned\x07"
    (d / "evil.cvq").write_bytes(container.pack(h, streams))
    for args in (["info", d / "evil.cvq"], ["decode", d / "evil.cvq", "-o", d / "e.png"]):
        r = run(*args)
        assert "\x1b" not in r.output and "\x07" not in r.output and "\\x1b[2J" in r.output


def test_a_permutation_for_a_fixed_order_model_is_exit_4(work):  # item 12
    d, w = work
    assert run("encode", d / "photo.png", "-o", d / "photo.cvq", "-m", w).exit_code == 0
    h, streams = container.unpack((d / "photo.cvq").read_bytes())
    h.permutation = list(range(h.latent_channels))[::-1]
    (d / "perm.cvq").write_bytes(container.pack(h, streams))
    r = run("decode", d / "perm.cvq", "-o", d / "perm.png", "-m", w)
    assert r.exit_code == 4 and "fixed channel order" in r.stderr and not (d / "perm.png").exists()


def test_models_lists_a_bad_file_as_unusable(work, tmp_path, monkeypatch):  # item 4
    from safetensors.torch import load_file, save_file

    from cvqncodec.weights import read_weights

    d, w = work
    meta, _, _, _ = read_weights(w)
    preset = {**json.loads(meta["cvqn.preset"]), "widths": [30000] * 4}
    (tmp_path / "bad").mkdir()
    bad = {**meta, "cvqn.preset": json.dumps(preset), "cvqn.name": "cvqn-q3"}
    save_file(load_file(w), str(tmp_path / "bad" / "cvqn-q3.safetensors"), metadata=bad)
    monkeypatch.setenv("CVQ_WEIGHTS", str(tmp_path / "bad"))
    r = run("models")
    assert r.exit_code == 0 and "unusable" in r.stdout and "stage widths" in r.stdout
    assert "cvqn-q3     *" in r.stdout  # the shipped model is still the one used
    r = run("encode", d / "photo.png", "-o", d / "x.cvq", "-m", tmp_path / "bad" / "cvqn-q3.safetensors")
    assert r.exit_code == 7 and "stage widths" in r.stderr


def test_bench_skips_a_corrupt_image_with_a_note(work):  # item 10
    d, w = work
    (d / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    r = run("bench", d, "-m", w)
    assert r.exit_code == 0 and "skipped" in r.stderr and "zz-broken.png" in r.stderr
