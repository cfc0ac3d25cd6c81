"""Fixtures of the command-line tests: a folder with two small images and the tiny model, and the
installed ``cvq`` console script."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from PIL import Image

from tests.helpers import synthetic_image


@pytest.fixture()
def work(tmp_path, tiny_weights):
    """(folder with photo.png 56x40 and grey.png 17x33, the tiny weights file's path)."""
    Image.fromarray(synthetic_image(40, 56)).save(tmp_path / "photo.png")
    Image.fromarray(synthetic_image(33, 17)[:, :, 0]).save(tmp_path / "grey.png")
    return tmp_path, str(tiny_weights)


@pytest.fixture(scope="session")
def cvq_exe():
    """The installed console script (one real run per behaviour that needs a real process)."""
    exe = shutil.which("cvq") or os.path.join(os.path.dirname(sys.executable), "cvq")
    assert os.path.exists(exe), "the cvq console script is not installed"
    return exe
