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


def read_like_compressai(path, metric: str) -> dict:
    """What ``python -m compressai.utils.plot -f FILE -m METRIC`` (CompressAI 1.2) does with one results file:
    its ``parse_json_file``, reproduced here so that the test needs no CompressAI."""
    import json
    from pathlib import Path

    import numpy as np

    path = Path(path)
    data = json.loads(path.read_text())
    results = data["results"] if "results" in data else data  # noqa: SIM401 (a list must fail as there)
    if metric in ("psnr", "ms-ssim"):
        metric = f"{metric}-rgb"
    if metric not in results:
        raise ValueError(f"metric {metric} not available: {', '.join(results.keys())}")
    ys = results[metric]
    if "ms-ssim" in metric:
        ys = list(-10 * np.log10(1 - np.array(ys)))
    return {"name": data.get("name", path.name.split(".")[0]), "xs": results["bpp"], "ys": ys}
