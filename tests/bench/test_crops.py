"""``cvq bench --crops``: which settings are shown, where the crop is, how the sheet is laid out."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cvqncodec.bench import BenchResult, run_bench, summarize
from cvqncodec.bench.crops import CROP_SIDE, GAP, detail_window, panel, plan, side_by_side, write_crops
from tests.bench.helpers import rec

pytestmark = pytest.mark.usefixtures("one_thread")


def test_plan_picks_each_codecs_nearest_setting_per_image_and_rate():
    records = [
        rec("CVQN", "q1", "a.png", 0.20, 0.9, source="q1.safetensors"),
        rec("CVQN", "q2", "a.png", 0.41, 0.95, source="q2.safetensors"),
        rec("CVQN", "q1", "b.png", 0.30, 0.9, source="q1.safetensors"),
        *(
            rec("JPEG", f"q={q}", img, bpp, 0.9, order=i)
            for img in ("a.png", "b.png")
            for i, (q, bpp) in enumerate([(10, 0.18), (20, 0.31), (30, 0.45)])
        ),
    ]
    result = BenchResult(
        [Path("d/a.png"), Path("d/b.png")], records, summarize(records, ["CVQN", "JPEG"]), {}, "CVQN", ["JPEG"]
    )
    sheets = plan(result)
    assert [(s.image.name, s.ours.setting, [o.setting for o in s.others]) for s in sheets] == [
        ("a.png", "q1", ["q=10"]),
        ("a.png", "q2", ["q=30"]),
        ("b.png", "q1", ["q=20"]),
    ]
    assert [s.name for s in sheets] == ["a_q1.png", "a_q2.png", "b_q1.png"]


def test_detail_window_finds_the_texture():
    grey = np.full((300, 400), 128, dtype=np.uint8)
    grey[200:260, 300:380] = np.random.default_rng(0).integers(0, 255, (60, 80))
    x, y, w, h = detail_window(grey, 100)
    assert (w, h) == (100, 100) and x <= 300 and x + w >= 380 and y <= 200 and y + h >= 260
    assert detail_window(grey[:50, :70], CROP_SIDE) == (0, 0, 70, 50)  # small images: whole


def test_panels_side_by_side():
    a = panel(np.zeros((40, 30, 3), np.uint8), ["original", "a very long label that is wider than the crop"])
    b = panel(np.zeros((50, 90), np.uint8), ["CVQN q1"])
    assert a.width > 30 and a.height > 40 and b.width == 90
    with Image.open(io.BytesIO(side_by_side([a, b]))) as im:
        assert im.format == "PNG" and im.size == (a.width + GAP + b.width, max(a.height, b.height))


def test_write_crops_codes_again_and_writes_a_sheet_per_image_and_rate(folder, tiny_weights, tmp_path):
    result = run_bench([folder / "a.png", folder / "b.png"], [tiny_weights], ["jpeg"], progress=False)
    written = write_crops(result, str(tmp_path / "crops"))
    assert [p.name for p in written] == ["a_tiny-test.png", "b_tiny-test.png"]
    for p in written:
        with Image.open(p) as im:  # original, CVQN and JPEG, each 192 x 176 (the whole image)
            assert im.width >= 3 * 192 + 2 * GAP and im.height > 176
