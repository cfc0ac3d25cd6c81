#!/usr/bin/env python3
"""Rate control on real photos: how near ``cvq encode --bpp X`` lands to X, and what it costs.

For every image of the folders and every target, ``cvq encode IMAGE --bpp X`` runs as a user runs it (one
process per file, so the seconds include loading the models); the file's real size gives its bpp. Reported per
target: the share of files within the tolerance (3 %), the median and largest miss, the models chosen and the
median seconds. Targets outside what an image's files can take end in exit 2 and are counted apart.

    python bench/rate_control.py ../shared/data/kodak --bpp 0.12,0.3,0.45 --json rc.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from cvqncodec.container import unpack
from cvqncodec.imageio import list_images
from cvqncodec.rate_control import TOLERANCE


def encode_to_bpp(image: Path, bpp: float, workdir: Path) -> dict:
    """One ``cvq encode --bpp``: exit code, real bpp, model, seconds."""
    out = workdir / (image.stem + ".cvq")
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "cvqncodec", "encode", str(image), "-o", str(out), "--bpp", str(bpp), "--quiet"],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    w, h = Image.open(image).size
    row = {"image": image.name, "target": bpp, "exit": r.returncode, "seconds": round(seconds, 2)}
    if r.returncode == 0:
        data = out.read_bytes()
        row.update(bpp=8 * len(data) / (w * h), model=unpack(data)[0].model_name)
        row["miss"] = row["bpp"] / bpp - 1
    else:
        row["error"] = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    return row


def summary(rows: list[dict], target: float) -> str:
    coded = [r for r in rows if r["exit"] == 0]
    misses = [abs(r["miss"]) for r in coded]
    within = sum(m <= TOLERANCE for m in misses)
    models = sorted({r["model"] for r in coded})
    return (
        f"| {target:g} | {len(rows)} | {within} | {len(rows) - len(coded)} | "
        f"{100 * statistics.median(misses):.2f} % | {100 * max(misses):.2f} % | "
        f"{', '.join(models)} | {statistics.median(r['seconds'] for r in rows):.1f} s |"
        if coded
        else f"| {target:g} | {len(rows)} | 0 | {len(rows)} | – | – | – | – |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--bpp", default="0.12,0.3,0.45", help="comma-separated targets")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    images = [p for folder in args.folders for p in list_images(folder)][: args.limit or None]
    targets = [float(t) for t in args.bpp.split(",")]
    rows: list[dict] = []
    print(f"{len(images)} images, targets {targets}, {os.cpu_count()} CPUs", file=sys.stderr)
    print("| target bpp | files | within 3 % | out of reach | median miss | largest miss | models | median s |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for target in targets:
            done = [encode_to_bpp(image, target, Path(tmp)) for image in images]
            rows += done
            print(summary(done, target), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
