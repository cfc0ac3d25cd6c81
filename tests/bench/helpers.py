"""Helpers of the bench tests (the project-wide ones are in tests/helpers.py)."""

from __future__ import annotations

from cvqncodec.bench import Record


def rec(
    codec_name: str,
    setting: str,
    image: str,
    bpp: float,
    ms: float | None,
    order: float = 0.0,
    psnr: float = 30.0,
    source: str | None = None,
) -> Record:
    """A Record of a 10x10 image, timed 0.5 s to encode and 0.25 s to decode."""
    return Record(
        codec_name, setting, source or setting, order, image, 10, 10, int(bpp * 100 / 8), bpp, psnr, ms, 0.5, 0.25
    )
