#!/usr/bin/env python3
"""Peak memory and time of `cvq encode` / `cvq decode` on a large photo (tiled transforms).

Upscales a source photo (default: the shipped example) to the requested size, then runs the real CLI
in child processes under GNU time (/usr/bin/time), which reports each command's peak resident set size.

    python bench/large_image.py --megapixels 24 --model cvqn-q3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def run_child(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one child process.

    The child runs under GNU time, which reports its own child's peak RSS: Linux starts a process's
    peak-RSS counter from its parent's resident size at fork, so measuring the command directly from
    this (larger) process would report at least this process's size.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-q", "-f", "%M", "-o", rss.name, *cmd], stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        kib = int(rss.read().split()[-1])
    return seconds, kib / 1024, code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--megapixels", type=float, default=24.0)
    ap.add_argument("--source", default=str(ROOT / "examples" / "colorful-cups.png"))
    ap.add_argument("--model", default="cvqn-q3")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    width = int(round((args.megapixels * 1e6 * 1.5) ** 0.5))
    height = int(round(args.megapixels * 1e6 / width))
    work = Path(tempfile.mkdtemp(prefix="cvq-large-"))
    src, cvq, out = work / "large.png", work / "large.cvq", work / "large-decoded.png"
    Image.open(args.source).convert("RGB").resize((width, height), Image.BICUBIC).save(src, compress_level=1)
    cli = [sys.executable, "-m", "cvqncodec"]
    enc = run_child(cli + ["encode", str(src), "-o", str(cvq), "-m", args.model, "-f"])
    dec = run_child(cli + ["decode", str(cvq), "-o", str(out), "-f"])
    a = np.asarray(Image.open(src), dtype=np.float64)
    b = np.asarray(Image.open(out), dtype=np.float64) if out.exists() else None
    row = {
        "width": width,
        "height": height,
        "megapixels": width * height / 1e6,
        "model": args.model,
        "bytes": cvq.stat().st_size if cvq.exists() else None,
        "encode_s": enc[0],
        "encode_peak_rss_mib": enc[1],
        "encode_exit": enc[2],
        "decode_s": dec[0],
        "decode_peak_rss_mib": dec[1],
        "decode_exit": dec[2],
        "psnr": float(10 * np.log10(255**2 / np.mean((a - b) ** 2))) if b is not None else None,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }
    if row["bytes"]:
        row["bpp"] = 8 * row["bytes"] / (width * height)
    print(json.dumps(row, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(row, indent=1))
    for p in (src, cvq, out):
        p.unlink(missing_ok=True)
    work.rmdir()
    return 0 if enc[2] == 0 and dec[2] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
