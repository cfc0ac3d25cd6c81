#!/usr/bin/env python3
"""Seconds per megapixel and peak memory across image shapes: do encode and decode scale with the pixels?

Usage:
  python bench/scaling.py [--model cvqn-q3 ...] [--shapes kodak,3mp,24mp,strip] [--threads 2] [--memory]
      [--repeats 3] [--kodak ../shared/data/kodak] [--json out.json]

Shapes: ``kodak`` = the first four Kodak photos (768x512 / 512x768, as they are); ``3mp`` (2048x1536) and
``24mp`` (6000x4000) = the shipped example photo upscaled bicubically; ``strip`` (65536x16) = 16-px bands of
the upscaled example side by side. Times are in-process (codec.encode / container.unpack + codec.decode, model
loaded once, after a warm-up), so they exclude Python start-up; every decode is checked to recover the encoder's
symbols. With ``--memory`` each shape is also coded by the real CLI in child processes whose peak RSS GNU time
reports (``bench/speed.py``'s ``cli_peak_rss``). The table gives each shape's s/MP over the Kodak row's.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cvqncodec import codec, container
from cvqncodec.weights import load_weights
from cvqncodec.zoo import resolve_model

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "colorful-cups.png"
SIZES = {"3mp": (2048, 1536), "24mp": (6000, 4000), "strip": (65536, 16)}


def shape_images(name: str, kodak: Path) -> list[np.ndarray]:
    """The uint8 (H, W, 3) images of one shape."""
    if name == "kodak":
        files = sorted(kodak.glob("*.png"))[:4]
        return [np.asarray(Image.open(f).convert("RGB")) for f in files]
    width, height = SIZES[name]
    src = Image.open(EXAMPLE).convert("RGB")
    if name != "strip":
        return [np.asarray(src.resize((width, height), Image.BICUBIC))]
    big = np.asarray(src.resize((4096, 2560), Image.BICUBIC))  # 160 bands of 16 rows x 4096 px
    bands = [big[i : i + height] for i in range(0, big.shape[0], height)]
    return [np.concatenate(bands[: width // big.shape[1]], axis=1)]


def time_one(loaded, pixels: np.ndarray) -> dict:
    """Encode and decode one image in this process: seconds, bytes, exactness."""
    x = torch.from_numpy(pixels.copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)  # Pillow arrays are read-only
    t0 = time.perf_counter()
    enc = codec.encode(loaded, x)
    t1 = time.perf_counter()
    header, streams = container.unpack(enc.data)
    _, latent = codec.decode(loaded, header, streams)
    t2 = time.perf_counter()
    exact = all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
    return {"encode_s": t1 - t0, "decode_s": t2 - t1, "bytes": len(enc.data), "exact": exact}


def cli_memory(pixels: np.ndarray, model: str) -> tuple[float, float]:
    """Peak RSS (MiB) of `cvq encode` and `cvq decode` of one image (``bench/speed.py``'s child processes)."""
    from speed import cli_peak_rss  # bench/ is on sys.path when this script runs

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "x.png"
        Image.fromarray(pixels).save(src, compress_level=1)
        return cli_peak_rss(src, model)


def median_run(loaded, pixels: np.ndarray, repeats: int) -> dict:
    """:func:`time_one` ``repeats`` times: median seconds (one slow first touch of large buffers is common)."""
    runs = [time_one(loaded, pixels) for _ in range(repeats)]
    out = dict(runs[0])
    for key in ("encode_s", "decode_s"):
        out[key] = statistics.median(r[key] for r in runs)
    out["exact"] = all(r["exact"] for r in runs)
    return out


def measure(loaded, model: str, name: str, kodak: Path, memory: bool, repeats: int = 1) -> dict:
    """One row: summed seconds (median of ``repeats`` per image) and megapixels over the shape's images
    (+ peak RSS of the largest)."""
    images = shape_images(name, kodak)
    runs = [median_run(loaded, im, repeats) for im in images]
    mp = sum(im.shape[0] * im.shape[1] for im in images) / 1e6
    row = {
        "model": model,
        "shape": name,
        "size": f"{images[0].shape[1]}x{images[0].shape[0]}",
        "images": len(images),
        "megapixels": mp,
        "bpp": 8 * sum(r["bytes"] for r in runs) / (mp * 1e6),
        "encode_s_per_mp": sum(r["encode_s"] for r in runs) / mp,
        "decode_s_per_mp": sum(r["decode_s"] for r in runs) / mp,
        "exact": all(r["exact"] for r in runs),
    }
    if memory:
        row["encode_peak_rss_mib"], row["decode_peak_rss_mib"] = cli_memory(images[-1], model)
    return row


def print_table(rows: list[dict]) -> None:
    print(f"{'model':<10}{'shape':<8}{'size':>12}{'MP':>7}{'bpp':>7}{'enc s/MP':>10}{'dec s/MP':>10}"
          f"{'enc x':>7}{'dec x':>7}{'enc MiB':>9}{'dec MiB':>9}  exact")  # fmt: skip
    base = {r["model"]: r for r in rows if r["shape"] == "kodak"}
    for r in rows:
        b = base.get(r["model"])
        ratio = (
            f"{r['encode_s_per_mp'] / b['encode_s_per_mp']:>7.2f}{r['decode_s_per_mp'] / b['decode_s_per_mp']:>7.2f}"
            if b
            else f"{'':>14}"
        )
        mem = f"{r.get('encode_peak_rss_mib', float('nan')):>9.0f}{r.get('decode_peak_rss_mib', float('nan')):>9.0f}"
        print(
            f"{r['model']:<10}{r['shape']:<8}{r['size']:>12}{r['megapixels']:>7.2f}{r['bpp']:>7.3f}"
            f"{r['encode_s_per_mp']:>10.2f}{r['decode_s_per_mp']:>10.2f}{ratio}{mem}  {r['exact']}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--shapes", default="kodak,3mp,24mp,strip")
    ap.add_argument("--kodak", default=str(ROOT.parent / "shared" / "data" / "kodak"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--memory", action="store_true", help="peak RSS of the CLI per shape (child processes)")
    ap.add_argument("--repeats", type=int, default=1, help="time every image this many times, keep the median")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    shapes = args.shapes.split(",")
    unknown = set(shapes) - {"kodak", *SIZES}
    if unknown:
        ap.error(f"unknown shapes {sorted(unknown)}")
    rows = []
    for model in args.model or ["cvqn-q3"]:
        loaded = load_weights(resolve_model(model))
        time_one(loaded, np.zeros((64, 64, 3), np.uint8))  # warm-up: torchac, kernel selection
        for name in shapes:
            rows.append(measure(loaded, model, name, Path(args.kodak), args.memory, args.repeats))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows)
    print(f"threads {args.threads}, {platform.processor() or platform.machine()}, torch {torch.__version__}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
