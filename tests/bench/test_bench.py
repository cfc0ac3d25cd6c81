"""cvq bench: BD-rate numerics, the CompressAI JSON shape, matched-bpp pairing and a real two-image run."""
import json
import math
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cvqncodec import bench, codec
from cvqncodec.cli import main
from cvqncodec.imageio import load_image
from cvqncodec.weights import load_weights

from tests.helpers import synthetic_image


pytestmark = pytest.mark.usefixtures("one_thread")

# A typical MS-SSIM (dB) curve: quality rising with log rate.
RATES = [0.08, 0.15, 0.25, 0.4, 0.6, 0.9]
QUALITY = [9.0 + 4.0 * math.log2(r / 0.08) - 0.2 * math.log2(r / 0.08) ** 2 for r in RATES]


@pytest.mark.parametrize("method", ["akima", "pchip", "cubic"])
def test_bd_rate_of_a_curve_with_every_rate_scaled(method):
    cheaper = [0.9 * r for r in RATES]
    res = bench.bd_rate(RATES, QUALITY, cheaper, QUALITY, method)
    assert res.value == pytest.approx(-10.0, abs=1e-6)
    assert res.interval == (pytest.approx(QUALITY[0]), pytest.approx(QUALITY[-1]))
    assert bench.bd_rate(RATES, QUALITY, [1.25 * r for r in RATES], QUALITY, method).value == pytest.approx(25.0)
    assert bench.bd_rate(RATES, QUALITY, RATES, QUALITY, method).value == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_cubic_fallback_without_the_package(monkeypatch):
    assert bench.bd_rate_cubic(RATES, QUALITY, [0.9 * r for r in RATES], QUALITY) == pytest.approx(-10.0)
    monkeypatch.setitem(sys.modules, "bjontegaard", None)  # import fails
    res = bench.bd_rate(RATES, QUALITY, [0.9 * r for r in RATES], QUALITY, "akima")
    assert res.value == pytest.approx(-10.0) and "not installed" in res.note


def test_bd_rate_partial_overlap_uses_the_common_interval():
    # The test curve covers only the upper half of the anchor's quality range (still 4 points).
    rates = [0.08, 0.12, 0.18, 0.25, 0.4, 0.6, 0.9]
    q = [10 + 5 * math.log2(r / 0.08) for r in rates]  # straight line in log rate: exact for any fit
    res = bench.bd_rate(rates, q, [0.8 * r for r in rates[3:]], q[3:], "pchip")
    assert res.value == pytest.approx(-20.0)
    assert res.interval == (pytest.approx(q[3]), pytest.approx(q[-1]))


def test_bd_rate_needs_four_points_and_overlap():
    res = bench.bd_rate(RATES, QUALITY, RATES[:3], QUALITY[:3], names=("JPEG", "CVQN"))
    assert res.value is None and "CVQN has 3 usable points, needs >= 4" in res.note
    res = bench.bd_rate(RATES, QUALITY, RATES, [q + 50 for q in QUALITY], names=("JPEG", "CVQN"))
    assert res.value is None and res.note.startswith("no overlap")
    # A point that is worse than a lower-rate one is not usable; undefined quality neither.
    res = bench.bd_rate(RATES, QUALITY, RATES[:3] + [1.0, 2.0], QUALITY[:3] + [QUALITY[1], None])
    assert res.value is None and res.note == "test has 3 usable points, needs >= 4"


def rec(codec_name, setting, image, bpp, ms, order=0.0, psnr=30.0, source=None):
    return bench.Record(codec_name, setting, source or setting, order, image, 10, 10, int(bpp * 100 / 8), bpp, psnr,
                        ms, 0.5, 0.25)


def test_summary_and_compressai_json_shape():
    records = [rec("CVQN", "q2", "a.png", 0.30, 0.96), rec("CVQN", "q2", "b.png", 0.50, 0.98),
               rec("CVQN", "q1", "a.png", 0.10, 0.90), rec("CVQN", "q1", "b.png", 0.20, 0.92),
               rec("JPEG", "q=10", "a.png", 0.40, 0.91, 0), rec("JPEG", "q=10", "b.png", 0.60, None, 0, math.inf)]
    curves = bench.summarize(records, ["CVQN", "JPEG"])
    assert list(curves) == ["CVQN", "JPEG"]
    assert [p.setting for p in curves["CVQN"]] == ["q1", "q2"]  # sorted by mean bpp
    p = curves["CVQN"][0]
    assert (p.images, p.bpp, p.ms_ssim) == (2, pytest.approx(0.15), pytest.approx(0.91))
    assert p.ms_ssim_db == pytest.approx(-10 * math.log10(1 - 0.91))
    assert curves["JPEG"][0].ms_ssim == pytest.approx(0.91)  # mean over the images where it is defined

    out = bench.compressai_results(curves, {"CVQN": "ours"})
    assert isinstance(out, list) and [o["name"] for o in out] == ["CVQN", "JPEG"]
    for o in out:
        assert set(o) == {"name", "description", "results"}
        assert set(o["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
        assert len({len(v) for v in o["results"].values()}) == 1
    assert out[0]["description"] == "ours" and out[0]["results"]["bpp"] == [pytest.approx(0.15), pytest.approx(0.4)]
    assert out[1]["results"]["psnr-rgb"] == [None]  # inf is not JSON
    json.loads(json.dumps(out, allow_nan=False))
    single = bench.compressai_results({"CVQN": curves["CVQN"]}, {})
    assert isinstance(single, dict) and single["name"] == "CVQN"


def test_match_bpp_pairs_the_nearest_setting_per_image():
    records = [rec("CVQN", "q1", "a.png", 0.20, 0.95), rec("CVQN", "q1", "b.png", 0.50, 0.97)]
    for image, shift in (("a.png", 0.0), ("b.png", 0.3)):
        for i, b in enumerate((0.1, 0.25, 0.6)):
            records.append(rec("JPEG", f"q={i}", image, b + shift, 0.90 + 0.02 * i, order=i))
    (m,) = bench.match_bpp(records, "CVQN", ["JPEG"])
    # a.png: 0.25 is nearest to 0.20 (q=1, 0.92); b.png: 0.55 is nearest to 0.50 (q=1, 0.92)
    assert m.images == 2 and m.bpp_ours == pytest.approx(0.35) and m.bpp_theirs == pytest.approx(0.40)
    assert m.ms_ssim_diff == pytest.approx(((0.95 - 0.92) + (0.97 - 0.92)) / 2)
    assert m.ms_ssim_db_diff > 0


def test_parse_codecs():
    assert bench.parse_codecs("jpeg, WebP,j2k,bpg") == ["jpeg", "webp", "jpeg2000", "heif"]
    assert bench.parse_codecs("all") == list(bench.CODECS)
    assert bench.parse_codecs(None) == []
    with pytest.raises(ValueError, match="unknown codec 'mp3'"):
        bench.parse_codecs("jpeg,mp3")


@pytest.mark.parametrize("key", ["jpeg", "webp"])
def test_conventional_sweep_through_bytes(key):
    a = synthetic_image(176, 192, seed=4)
    records = bench.code_conventional(bench.CODECS[key], a, "x.png")
    assert len(records) == len(bench.CODECS[key].settings) >= 8
    bpps = [r.bpp for r in records]
    assert bpps == sorted(bpps) and bpps[0] < 0.6 and bpps[-1] > 2.0
    for r in records:
        assert r.bpp == pytest.approx(r.num_bytes * 8 / (176 * 192))
        assert r.ms_ssim is not None and 0 < r.ms_ssim < 1 and 15 < r.psnr < 60
    assert records[-1].ms_ssim > records[0].ms_ssim


def test_missing_plugin_is_a_note(monkeypatch):
    monkeypatch.setattr(bench.CODECS["jxl"], "unavailable", lambda: "pillow-jxl-plugin is not installed")
    notes = []
    assert bench.available_codecs(["jpeg", "jxl"], notes.append) == ["jpeg"]
    assert notes == ["cvq bench: skipping jxl: pillow-jxl-plugin is not installed"]


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(synthetic_image(176, 192, seed=1)).save(d / "a.png")
    Image.fromarray(synthetic_image(176, 192, seed=2)).save(d / "b.png")
    (d / "notes.txt").write_text("not an image")
    return d


def run(*args):
    return CliRunner().invoke(main, ["bench", *map(str, args)], catch_exceptions=False)


def test_bench_two_images(folder, tiny_weights, tmp_path, monkeypatch):
    monkeypatch.setattr(bench.CODECS["jxl"], "unavailable", lambda: "pillow-jxl-plugin is not installed")
    out_json, out_png = tmp_path / "rd.json", tmp_path / "rd.png"
    r = run(folder, "--model", tiny_weights, "--codecs", "jpeg,jxl", "--json", out_json, "--plot", out_png,
            "--per-image", "--match-bpp")
    assert r.exit_code == 0, r.output
    assert "cvq bench: skipping jxl: pillow-jxl-plugin is not installed" in r.stderr
    assert "Traceback" not in r.output

    data = json.loads(out_json.read_text())
    assert [o["name"] for o in data] == ["CVQN", "JPEG"]
    ours, jpeg = data[0]["results"], data[1]["results"]
    assert len(ours["bpp"]) == 1 and len(jpeg["bpp"]) == len(bench.CODECS["jpeg"].settings)
    for res in (ours, jpeg):
        assert set(res) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
        assert all(isinstance(v, float) for values in res.values() for v in values)
    assert "tiny-test" in data[0]["description"] and "4:4:4" in data[1]["description"]

    # bpp comes from the real files, header included
    lm = load_weights(tiny_weights)
    sizes = [len(codec.encode(lm, load_image(str(folder / n)).tensor).data) for n in ("a.png", "b.png")]
    assert ours["bpp"][0] == pytest.approx(np.mean(sizes) * 8 / (176 * 192))

    assert out_png.read_bytes().startswith(b"\x89PNG")
    out = r.stdout
    assert "Means over 2 images" in out and "tiny-test" in out and "q=90" in out
    assert "a.png" in out and "b.png" in out and "notes.txt" not in out  # --per-image
    assert "Matched bpp" in out and "dMS-SSIM" in out
    assert "n/a (CVQN has 1 usable point, needs >= 4)" in out

    # outputs are not overwritten without --force (checked before any work)
    r = run(folder, "--model", tiny_weights, "--json", out_json)
    assert r.exit_code == 6 and "--force" in r.stderr


def test_bench_workers_limit_and_greyscale(folder, tiny_weights, tmp_path):
    Image.fromarray(synthetic_image(176, 192, seed=3)[:, :, 1]).save(folder / "0-grey.png")
    out_json = tmp_path / "ours.json"
    r = run(folder, "--model", tiny_weights, "-j", "2", "--limit", "2", "--json", out_json, "--per-image", "-q")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    data = json.loads(out_json.read_text())
    assert isinstance(data, dict) and data["name"] == "CVQN"  # one codec: one object
    assert "0-grey.png" in r.stdout and "a.png" in r.stdout and "b.png" not in r.stdout


def test_bench_usage_errors(folder, tiny_weights, tmp_path, monkeypatch):
    assert run(folder, "--model", tiny_weights, "--codecs", "jpeg,mp3").exit_code == 2
    assert run(folder, "--model", tiny_weights, "--match-bpp").exit_code == 2
    assert run(tmp_path / "nowhere").exit_code == 2
    assert run(folder, "--model", tmp_path / "missing.safetensors").exit_code == 7
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run(empty, "--model", tiny_weights)
    assert r.exit_code == 3 and "no images" in r.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = run(folder, "--model", tiny_weights, "--plot", tmp_path / "rd.png")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--plot needs matplotlib" in r.stderr
