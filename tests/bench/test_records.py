"""Rate points from records and the CompressAI-style JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from cvqncodec.bench import BenchResult, compressai_results, results_json, summarize
from tests.bench.helpers import rec


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
        assert set(o["results"]) == {"bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time"}
        assert len({len(v) for v in o["results"].values()}) == 1
    assert out[0]["description"] == "ours" and out[0]["results"]["bpp"] == [pytest.approx(0.15), pytest.approx(0.4)]
    assert out[1]["results"]["psnr-rgb"] == [None]  # inf is not JSON
    json.loads(json.dumps(out, allow_nan=False))
    single = compressai_results({"CVQN": curves["CVQN"]}, {})
    assert isinstance(single, dict) and single["name"] == "CVQN"


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
