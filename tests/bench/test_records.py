"""Rate points from records and the CompressAI-style JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cvqncodec.bench import (
    BenchResult,
    compressai_results,
    json_file_names,
    results_files,
    results_json,
    slug,
    summarize,
)
from tests.bench.helpers import read_like_compressai, rec


def test_summary_and_compressai_json_shape():
    records = [
        rec("CVQN", "q2", "a.png", 0.30, 0.96),
        rec("CVQN", "q2", "b.png", 0.50, 0.98),
        rec("CVQN", "q1", "a.png", 0.10, 0.90),
        rec("CVQN", "q1", "b.png", 0.20, 0.92),
        rec("JPEG", "q=10", "a.png", 0.40, 0.91, 0),
        rec("JPEG", "q=10", "b.png", 0.60, None, 0, math.inf),
    ]
    curves = summarize(records, ["CVQN", "JPEG"])
    assert list(curves) == ["CVQN", "JPEG"]
    assert [p.setting for p in curves["CVQN"]] == ["q1", "q2"]  # sorted by mean bpp
    p = curves["CVQN"][0]
    assert (p.images, p.bpp, p.ms_ssim) == (2, pytest.approx(0.15), pytest.approx(0.91))
    assert p.ms_ssim_db == pytest.approx(-10 * math.log10(1 - 0.91))
    assert curves["JPEG"][0].ms_ssim == pytest.approx(0.91)  # mean over the images where it is defined

    out = compressai_results(curves, {"CVQN": "ours"})
    assert isinstance(out, list) and [o["name"] for o in out] == ["CVQN", "JPEG"]
    for o in out:
        assert set(o) == {"name", "description", "results"}
        assert {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"} <= set(o["results"])
        assert len({len(v) for v in o["results"].values()}) == 1
    assert out[0]["results"]["mean-error-g"] == [None, None]  # not measured for these records
    assert out[0]["description"] == "ours" and out[0]["results"]["bpp"] == [pytest.approx(0.15), pytest.approx(0.4)]
    assert out[1]["results"]["psnr-rgb"] == [None]  # inf is not JSON
    json.loads(json.dumps(out, allow_nan=False))
    single = compressai_results({"CVQN": curves["CVQN"]}, {})
    assert isinstance(single, dict) and single["name"] == "CVQN"


def test_colour_figures_are_averaged_per_channel_over_the_images():
    a, b = rec("CVQN", "q1", "a.png", 0.1, 0.9), rec("CVQN", "q1", "b.png", 0.2, 0.9)
    a.colour_error, b.colour_error = (1.0, -3.0, 0.5), (-1.0, -2.0, 0.5)
    a.chroma_spread, b.chroma_spread = (0.9, None), (0.96, 0.98)  # a: no Cr spread in the original
    p = summarize([a, b])["CVQN"][0]
    assert p.colour_error == pytest.approx((0.0, -2.5, 0.5)) and p.chroma_spread == pytest.approx((0.93, 0.98))
    res = compressai_results({"CVQN": [p]}, {})["results"]
    assert res["mean-error-g"] == [pytest.approx(-2.5)] and res["chroma-spread-cr"] == [pytest.approx(0.98)]


def test_record_ms_ssim_db_and_same_named_models():
    assert rec("CVQN", "q1", "a.png", 0.1, 0.9).ms_ssim_db == pytest.approx(10.0)
    assert rec("CVQN", "q1", "a.png", 0.1, None).ms_ssim_db is None
    # Two model files with the same internal name: the file tells their rate points apart.
    records = [
        rec("CVQN", "tiny", "a.png", 0.1, 0.9, source="x.safetensors"),
        rec("CVQN", "tiny", "a.png", 0.2, 0.95, source="y.safetensors"),
    ]
    assert [p.setting for p in summarize(records)["CVQN"]] == ["tiny (x.safetensors)", "tiny (y.safetensors)"]


def test_results_json_is_the_compressai_results():
    records = [rec("CVQN", "q1", "a.png", 0.10, 0.90)]
    curves = summarize(records)
    result = BenchResult([Path("a.png")], records, curves, {"CVQN": "ours"}, "CVQN")
    text = results_json(result)
    assert text.endswith("}\n") and json.loads(text) == compressai_results(curves, {"CVQN": "ours"})


def test_slugs_and_file_names():
    assert [slug(n) for n in ("CVQN", "HEIF (HEVC)", "JPEG 2000", "JPEG XL", "!!")] == [
        "cvqn",
        "heif-hevc",
        "jpeg-2000",
        "jpeg-xl",
        "codec",
    ]
    names = json_file_names(["Ours", "JPEG 2000", "jpeg-2000", "ours!"])
    assert list(names.values()) == ["ours.json", "jpeg-2000.json", "jpeg-2000-2.json", "ours-2.json"]


def test_one_compressai_file_per_codec(tmp_path):
    """Each --json-dir file is what CompressAI's plotter reads; the combined list is not (why they exist)."""
    records = [
        rec("CVQN", "q1", "a.png", 0.10, 0.90),
        rec("CVQN", "q2", "a.png", 0.30, 0.95),
        rec("HEIF (HEVC)", "q=10", "a.png", 0.12, 0.88, 0),
        rec("HEIF (HEVC)", "q=20", "a.png", 0.25, 0.93, 1),
    ]
    curves = summarize(records, ["CVQN", "HEIF (HEVC)"])
    result = BenchResult([Path("a.png")], records, curves, {"CVQN": "ours", "HEIF (HEVC)": "x265"}, "CVQN")
    files = results_files(result)
    assert list(files) == ["cvqn.json", "heif-hevc.json"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    ours = read_like_compressai(tmp_path / "cvqn.json", "ms-ssim")
    assert ours["name"] == "CVQN" and ours["xs"] == [pytest.approx(0.1), pytest.approx(0.3)]
    assert ours["ys"] == [pytest.approx(10.0), pytest.approx(-10 * math.log10(0.05))]
    heif = read_like_compressai(tmp_path / "heif-hevc.json", "psnr")
    assert heif["name"] == "HEIF (HEVC)" and heif["ys"] == [30.0, 30.0]
    assert json.loads(files["heif-hevc.json"])["description"] == "x265"
    (tmp_path / "rd.json").write_text(results_json(result))
    with pytest.raises(AttributeError, match="'list' object has no attribute 'keys'"):
        read_like_compressai(tmp_path / "rd.json", "psnr")
