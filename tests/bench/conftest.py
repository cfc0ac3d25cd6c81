"""Fixtures of the bench tests (the project-wide ones are in tests/conftest.py)."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.helpers import synthetic_image


@pytest.fixture()
def folder(tmp_path):
    """Two 176x192 colour images and a file that is not an image."""
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(synthetic_image(176, 192, seed=1)).save(d / "a.png")
    Image.fromarray(synthetic_image(176, 192, seed=2)).save(d / "b.png")
    (d / "notes.txt").write_text("not an image")
    return d
