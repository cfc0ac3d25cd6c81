"""Fixtures of the training tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.helpers import synthetic_image


@pytest.fixture()
def image_folder(tmp_path):
    """make(n): a folder tmp_path/data of ``n`` generated 80 x 96 PNG images (seeds 0..n-1)."""

    def make(n: int, h: int = 80, w: int = 96):
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        for i in range(n):
            Image.fromarray(synthetic_image(h, w, seed=i)).save(data / f"img{i}.png")
        return data

    return make
