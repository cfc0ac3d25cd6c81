"""Fixtures of the ``cvq analyze`` tests (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from cvqncodec.analyze import InfluenceSummary, analyze_images, report_files
from tests.helpers import image_tensor

#: How each figure format's files begin.
SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}


def _read_report(folder: Path, fmt: str = "png") -> tuple[list[dict], dict]:
    """The CSV rows and the JSON document of a report folder, after checking that both figures are ``fmt``
    files and that the JSON lists the folder's files."""
    rows = list(csv.DictReader(io.StringIO((folder / "influence.csv").read_text())))
    doc = json.loads((folder / "influence.json").read_text())
    assert doc["files"] == list(report_files(fmt))
    for name in (f"channels.{fmt}", f"influence.{fmt}"):
        assert (folder / name).read_bytes().startswith(SIGNATURES[fmt])
        if fmt == "png":
            with Image.open(folder / name) as im:
                im.verify()
    return rows, doc


@pytest.fixture(scope="session")
def read_report():
    return _read_report


@pytest.fixture(scope="session")
def small_summary(tiny_model) -> InfluenceSummary:
    """One 24 x 40 image: too small for MS-SSIM, so its columns are n/a."""
    return analyze_images(tiny_model.model, [("a", image_tensor(24, 40), 3)])
