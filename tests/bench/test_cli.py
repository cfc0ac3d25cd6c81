"""``cvq bench`` end to end: a real two-image run, workers, --limit, greyscale, usage errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec import codec
from cvqncodec.bench import CODECS
from cvqncodec.cli import main
from cvqncodec.imageio import load_image
from cvqncodec.weights import load_weights
from tests.bench.helpers import read_like_compressai
from tests.helpers import synthetic_image

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    return CliRunner().invoke(main, ["bench", *map(str, args)], catch_exceptions=False)


def test_bench_two_images(folder, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setattr(CODECS["jxl"], "unavailable", lambda: "pillow-jxl-plugin is not installed")
    out_json, out_png, out_dir, crops = tmp_path / "rd.json", tmp_path / "rd.png", tmp_path / "rd", tmp_path / "crops"
    r = run(
        folder,
        "--model",
        tiny_weights,
        "--codecs",
        "jpeg,jxl",
        "--json",
        out_json,
        "--plot",
        out_png,
        "--json-dir",
        out_dir,
        "--crops",
        crops,
        "--per-image",
        "--match-bpp",
    )
    assert r.exit_code == 0, r.output
    assert "cvq bench: skipping jxl: pillow-jxl-plugin is not installed" in r.stderr
    assert "Traceback" not in r.output

    data = json.loads(out_json.read_text())
    assert [o["name"] for o in data] == ["CVQN", "JPEG"]
    ours, jpeg = data[0]["results"], data[1]["results"]
    assert len(ours["bpp"]) == 1 and len(jpeg["bpp"]) == len(CODECS["jpeg"].settings)
    for res in (ours, jpeg):
        colour = {"mean-error-r", "mean-error-g", "mean-error-b", "chroma-spread-cb", "chroma-spread-cr"}
        assert set(res) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time", *colour}
        assert all(isinstance(v, float) for values in res.values() for v in values)
        assert all(abs(v) < 64 for k in colour for v in res[k])  # levels and ratios, not garbage
    assert "tiny-test" in data[0]["description"] and "4:4:4" in data[1]["description"]
    # --json-dir: the same objects, one CompressAI file per codec
    assert sorted(p.name for p in out_dir.iterdir()) == ["cvqn.json", "jpeg.json"]
    assert [json.loads((out_dir / n).read_text()) for n in ("cvqn.json", "jpeg.json")] == data
    assert read_like_compressai(out_dir / "jpeg.json", "ms-ssim")["name"] == "JPEG"
    # --crops: one sheet per image and model
    assert sorted(p.name for p in crops.iterdir()) == ["a_tiny-test.png", "b_tiny-test.png"]
    assert "wrote 2 crop sheets to" in r.stderr

    # bpp comes from the real files, header included
    loaded = load_weights(tiny_weights)
    sizes = [len(codec.encode(loaded, load_image(str(folder / n)).tensor).data) for n in ("a.png", "b.png")]
    assert ours["bpp"][0] == pytest.approx(np.mean(sizes) * 8 / (176 * 192))

    assert out_png.read_bytes().startswith(b"\x89PNG")
    out = r.stdout
    assert "Means over 2 images" in out and "tiny-test" in out and "q=90" in out
    assert "a.png" in out and "b.png" in out and "notes.txt" not in out  # --per-image
    assert "Matched bpp" in out and "dMS-SSIM" in out
    assert "error R/G/B" in out and "chroma Cb/Cr" in out
    assert "n/a (CVQN has 1 usable point, needs >= 4)" in out

    # outputs are not overwritten without --force (checked before any work)
    for option, path in (("--json", out_json), ("--json-dir", out_dir), ("--crops", crops)):
        r = run(folder, "--model", tiny_weights, option, path)
        assert r.exit_code == 6 and "--force" in r.stderr, option


def test_bench_workers_limit_and_greyscale(folder, tiny_weights, tmp_path):
    Image.fromarray(synthetic_image(176, 192, seed=3)[:, :, 1]).save(folder / "0-grey.png")
    out_json = tmp_path / "ours.json"
    r = run(folder, "--model", tiny_weights, "-j", "2", "--limit", "2", "--json", out_json, "--per-image", "--quiet")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    data = json.loads(out_json.read_text())
    assert isinstance(data, dict) and data["name"] == "CVQN"  # one codec: one object
    assert "0-grey.png" in r.stdout and "a.png" in r.stdout and "b.png" not in r.stdout
    # --json naming a folder (existing, or ending in '/') is --json-dir
    r = run(folder, "--model", tiny_weights, "--limit", "1", "--json", f"{tmp_path / 'new'}/", "--name", "Ours v2")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "new" / "ours-v2.json").read_text())["name"] == "Ours v2"


def test_bench_usage_errors(folder, tiny_weights, tmp_path, monkeypatch):
    assert run(folder, "--model", tiny_weights, "--codecs", "jpeg,mp3").exit_code == 2
    assert run(folder, "--model", tiny_weights, "--match-bpp").exit_code == 2
    assert run(tmp_path / "nowhere").exit_code == 2
    assert run(folder, "--model", tmp_path / "missing.safetensors").exit_code == 7
    r = run(folder, "--model", tiny_weights, "--name", "JPEG", "--codecs", "jpeg")
    assert r.exit_code == 2 and "is the name of a conventional codec" in r.stderr
    assert run(folder, "--model", tiny_weights, "--plot", tmp_path / "rd.gif").exit_code == 2
    r = run(folder, "--model", tiny_weights, "--json", tmp_path, "--json-dir", tmp_path / "x")
    assert r.exit_code == 2 and "not both" in r.stderr
    assert run(folder, "--model", tiny_weights, "--crops", "-").exit_code == 2
    (tmp_path / "file").write_text("x")
    for option in ("--json-dir", "--crops"):
        r = run(folder, "--model", tiny_weights, option, tmp_path / "file", "--force")
        assert r.exit_code == 6 and "not a folder" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(empty, "--model", tiny_weights)
    assert r.exit_code == 3 and "no images" in r.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = run(folder, "--model", tiny_weights, "--plot", tmp_path / "rd.png")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--plot needs matplotlib" in r.stderr


def test_installed_script_writes_json_dir_and_crops(folder, tiny_weights, tmp_path):
    """One real run of the installed console script with the reusable outputs."""
    exe = shutil.which("cvq") or os.path.join(os.path.dirname(sys.executable), "cvq")
    assert os.path.exists(exe), "the cvq console script is not installed"
    args = [exe, "bench", str(folder), "--model", str(tiny_weights), "--codecs", "jpeg", "--limit", "1"]
    args += ["--json-dir", str(tmp_path / "rd"), "--crops", str(tmp_path / "crops"), "--quiet"]
    p = subprocess.run(args, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert b"Means over 1 image" in p.stdout and p.stderr == b""
    assert read_like_compressai(tmp_path / "rd" / "cvqn.json", "psnr")["name"] == "CVQN"
    assert read_like_compressai(tmp_path / "rd" / "jpeg.json", "psnr")["name"] == "JPEG"
    with Image.open(tmp_path / "crops" / "a_tiny-test.png") as im:
        assert im.format == "PNG"
