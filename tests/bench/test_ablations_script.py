"""bench/ablations.py at a tiny budget: one JSON row per run, resumable, tables with the paper's numbers."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import synthetic_image

SCRIPTS = Path(__file__).resolve().parents[2] / "bench"
TINY = ["--preset", "tiny", "--steps", "2", "--crop", "64", "--batch-size", "2", "--limit", "1"]


@pytest.fixture(scope="module")
def ablations():
    # Imported by name from the scripts' folder, so that the run processes (spawned) can import it too.
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("ablations")
    finally:
        sys.path.remove(str(SCRIPTS))


@pytest.fixture()
def folders(tmp_path):
    data, evaluation = tmp_path / "data", tmp_path / "eval"
    data.mkdir()
    evaluation.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_image(80, 96, seed=i)).save(data / f"{i}.png")
    Image.fromarray(synthetic_image(176, 192, seed=7)).save(evaluation / "e.png")
    return ["--data", str(data), "--eval", str(evaluation), "--out", str(tmp_path / "runs")]


def test_runs_record_rows_and_resume(ablations, folders, tmp_path, capsys):
    out = tmp_path / "ablations.json"
    args = [*folders, "--json", str(out), "--rows", "q5,q357-re", "--seeds", "0,1", *TINY]
    assert ablations.main(args) == 0
    rows = json.loads(out.read_text())
    assert [(r["row"], r["seed"]) for r in rows] == [("q5", 0), ("q5", 1), ("q357-re", 0), ("q357-re", 1)]
    for r in rows:
        assert r["steps"] == 2 and r["images"] == 1 and r["bpp"] > 0 and 0 < r["ms_ssim"] < 1
        assert r["levels"] == ([5] if r["row"] == "q5" else [3, 5, 7])
    # Another row set at the same budget adds only what is missing; recorded runs are not trained again.
    assert ablations.main([*folders, "--json", str(out), "--rows", "q5,q258", "--seeds", "0", *TINY]) == 0
    again = json.loads(out.read_text())
    assert len(again) == 5 and again[:2] == rows[:2]
    assert "1 runs to go" in capsys.readouterr().err


def test_rows_of_another_budget_are_not_mixed(ablations):
    rows = [
        {"row": "q5", "seed": 0, "bpp": 0.3, "ms_ssim": 0.9, "psnr": 25.0, "budget": {"steps": 1}},
        {"row": "q5", "seed": 0, "bpp": 0.2, "ms_ssim": 0.95, "psnr": 27.0, "budget": {"steps": 2}},
    ]
    budget = ablations.Budget(steps=2)
    rows[1]["budget"] = ablations.asdict(budget)
    text = ablations.tables(rows, budget)
    assert "| [5] | predefined | 1 | 27.000 | 0.9500 | 0.2000 |" in text
    assert "0.2664" in text  # the paper's q = [5] bpp beside ours


def test_orderings_say_what_holds(ablations):
    means = {
        "q5": {"bpp": 0.30, "ms_ssim": 0.95, "psnr": 27.0},
        "q357-predefined": {"bpp": 0.29, "ms_ssim": 0.94, "psnr": 27.0},
    }
    lines = ablations.orderings(means)
    assert any("smaller files than [5]: holds" in line for line in lines)
    assert any("at least [5]'s: does not hold" in line for line in lines)
    assert any("RE codes smaller files than [5]: not measured yet" in line for line in lines)


def test_unknown_row_is_a_usage_error(ablations, tmp_path):
    with pytest.raises(SystemExit) as exc:
        ablations.main(["--json", str(tmp_path / "a.json"), "--table", "--rows", "q9"])
    assert exc.value.code == 2
