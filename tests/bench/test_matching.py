"""Matched-bpp pairing."""

from __future__ import annotations

import pytest

from cvqncodec.bench import match_bpp
from tests.bench.helpers import rec


def test_match_bpp_pairs_the_nearest_setting_per_image():
    records = [rec("CVQN", "q1", "a.png", 0.20, 0.95), rec("CVQN", "q1", "b.png", 0.50, 0.97)]
    for image, shift in (("a.png", 0.0), ("b.png", 0.3)):
        for i, b in enumerate((0.1, 0.25, 0.6)):
            records.append(rec("JPEG", f"q={i}", image, b + shift, 0.90 + 0.02 * i, order=i))
    (m,) = match_bpp(records, "CVQN", ["JPEG"])
    # a.png: 0.25 is nearest to 0.20 (q=1, 0.92); b.png: 0.55 is nearest to 0.50 (q=1, 0.92)
    assert m.images == 2 and m.bpp_ours == pytest.approx(0.35) and m.bpp_theirs == pytest.approx(0.40)
    assert m.ms_ssim_diff == pytest.approx(((0.95 - 0.92) + (0.97 - 0.92)) / 2)
    assert m.ms_ssim_db_diff > 0


def test_match_bpp_skips_images_without_ms_ssim():
    records = [rec("CVQN", "q1", "a.png", 0.20, None), rec("JPEG", "q=1", "a.png", 0.2, 0.9)]
    assert match_bpp(records, "CVQN", ["JPEG"]) == []
