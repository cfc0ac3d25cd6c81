#!/usr/bin/env python3
"""RD-optimized encoding (``--effort``): quality, real file size and time against refinement steps.

For every model, image and setting: one refinement run up to the largest step count; at each listed step
count the file that effort would write (the best iterate so far by real cost, steps of EFFORT_STEPS are
all checked) is packed into real .cvq bytes and decoded, and its bpp (file size, header included), PSNR
and MS-SSIM (8-bit, dB = -10 log10(1 - MS-SSIM)) are measured. Seconds per step exclude this measuring.
``--time`` instead times a plain encode and refinement steps (with and without bf16 autocast).

Tune on training images only (never on Kodak), e.g. 768x512 centre crops of four CLIC test images:

    python bench/effort.py --model cvqn-q3 --steps 0,2,5,10,20,35,50 --method ste,sga --json q3.json
    python bench/effort.py --model cvqn-q3 --steps 0,2,5,10,20,35,50,75,100 --lr 0.005,0.01  # constant lr
    python bench/effort.py --model cvqn-q3 --time --threads 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cvqncodec import codec, container
from cvqncodec.metrics import ms_ssim, ms_ssim_db, psnr
from cvqncodec.model import pad_to_multiple
from cvqncodec.precision import bf16_is_fast
from cvqncodec.refine import RefineSettings, refine
from cvqncodec.zoo import resolve_model

TRAIN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "train"
DEFAULT_IMAGES = [
    TRAIN / f"clic25test_{n}.png"
    for n in ("1b4ad095795ac552", "c9510efb03d1852c", "0369d229ba4c9965", "2397c73f8feeb8f6")
]


def load_crop(path: Path, long: int, short: int) -> torch.Tensor:
    """Centre crop of long x short px (in the image's own orientation) as (1, 3, H, W) in [0, 1]."""
    a = np.asarray(Image.open(path).convert("RGB"))
    h, w = (short, long) if a.shape[1] >= a.shape[0] else (long, short)
    y, x = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    return torch.from_numpy(np.ascontiguousarray(a[y : y + h, x : x + w])).permute(2, 0, 1)[None].float() / 255


def measure(loaded, latent, image) -> dict:
    data = codec.pack_latent(loaded, latent, image.shape[-2], image.shape[-1])
    header, streams = container.unpack(data)
    decoded, _ = codec.decode(loaded, header, streams)
    ms = ms_ssim(image, decoded)
    return {
        "bpp": 8 * len(data) / (image.shape[-2] * image.shape[-1]),
        "psnr": psnr(image, decoded),
        "ms_ssim": ms,
        "ms_ssim_db": ms_ssim_db(ms) if ms is not None else None,
    }


def run_quality(loaded, image, settings: RefineSettings, steps: list[int]) -> dict:
    x = pad_to_multiple(image)
    rows, best, spent = {}, [None], [0.0]

    def observe(step, cost, latent):
        t0 = time.perf_counter()
        if best[0] is None or cost.total < best[0][0].total:
            best[0] = (cost, latent, step)
        if step in steps:
            rows[step] = {
                "step": step,
                "best_step": best[0][2],
                "cost": best[0][0].total,
                "iterate_cost": cost.total,
                **measure(loaded, best[0][1], image),
            }
        spent[0] += time.perf_counter() - t0

    t0 = time.perf_counter()
    refine(loaded, x, replace(settings, steps=max(steps)), observe=observe)
    seconds = (time.perf_counter() - t0 - spent[0]) / max(1, max(steps))
    return {"rows": [rows[s] for s in steps], "seconds_per_step": seconds}


def run_time(loaded, image, repeats: int, steps: int = 5) -> dict:
    """Seconds of a plain encode and of efforts 2 and 3 (best of ``repeats``), and of one refinement step
    (loss, gradient, Adam) and one real-cost check (hard symbols, exact bits, decode; at steps 0, 2 and 5)
    from time stamps (medians). Both wall-clock and CPU seconds of this process: on a busy machine the CPU
    seconds with one thread are the stable measure of work."""
    x = pad_to_multiple(image)
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    out: dict = {}
    for _ in range(repeats):
        for name, fn in [("encode", lambda: codec.encode(loaded, image))] + [
            (f"encode_effort{e}", lambda e=e: codec.encode(loaded, image, refine=RefineSettings.for_effort(e)))
            for e in (2, 3)
        ]:
            t0 = {k: c() for k, c in clocks.items()}
            fn()
            for k, c in clocks.items():
                key = f"{name}_{k}"
                out[key] = min(out.get(key, float("inf")), c() - t0[k])
    for method in ("ste", "sga"):
        for bf16 in (False, True):
            marks: list[tuple[str, float, float]] = []
            s = RefineSettings(steps=steps, method=method, bf16=bf16)

            def mark(kind: str, m: list = marks) -> None:
                m.append((kind, time.perf_counter(), time.process_time()))

            refine(loaded, x, s, progress=lambda *_, f=mark: f("step"), observe=lambda *_, f=mark: f("check"))
            gaps: dict = {}
            for (_, wall_a, cpu_a), (kind, wall_b, cpu_b) in zip(marks, marks[1:]):
                gaps.setdefault(f"{kind}_wall", []).append(wall_b - wall_a)
                gaps.setdefault(f"{kind}_cpu", []).append(cpu_b - cpu_a)
            out[f"{method}{'-bf16' if bf16 else ''}"] = {k: statistics.median(v) for k, v in gaps.items()}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--images", nargs="+", type=Path, default=DEFAULT_IMAGES)
    ap.add_argument("--crop", default="768x512", help="LONGxSHORT centre crop")
    ap.add_argument("--steps", default="0,2,5,10,20,35,50", help="step counts of EFFORT_STEPS")
    ap.add_argument("--method", default="ste", help="comma-separated: ste, sga")
    ap.add_argument("--lr", default="0.02/10", help="comma-separated LR/HALVING (lr / (1 + t / HALVING) at step t)")
    ap.add_argument("--bf16", default="auto", choices=["auto", "on", "off", "both"])
    ap.add_argument("--rate-weight", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--time", action="store_true", help="time a plain encode and refinement steps instead")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    long, short = (int(v) for v in args.crop.split("x"))
    images = {p.stem: load_crop(p, long, short) for p in args.images}
    steps = sorted({int(s) for s in args.steps.split(",")})
    bf16s = {"auto": [None], "on": [True], "off": [False], "both": [False, True]}[args.bf16]
    results = []
    for name in args.model or ["cvqn-q3"]:
        loaded = codec_model(name)
        if args.time:
            for stem, image in images.items():
                r = {"model": name, "image": stem, "threads": args.threads, **run_time(loaded, image, args.repeats)}
                print(json.dumps(r), flush=True)
                results.append(r)
            continue
        for method in args.method.split(","):
            for lr, halving in (map(float, (v + "/0").split("/")[:2]) for v in args.lr.split(",")):
                for bf16 in bf16s:
                    s = RefineSettings(
                        lr=lr, lr_halving=halving, method=method, bf16=bf16, rate_weight=args.rate_weight
                    )
                    per_image = {stem: run_quality(loaded, image, s, steps) for stem, image in images.items()}
                    bf = bf16_is_fast(torch.device("cpu")) if bf16 is None else bf16
                    summary(name, method, f"{lr}/{halving:g}", bf, steps, per_image)
                    results.append(
                        {
                            "model": name,
                            "method": method,
                            "lr": lr,
                            "lr_halving": halving,
                            "bf16": bf,
                            "images": per_image,
                        }
                    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def codec_model(name: str):
    from cvqncodec.weights import load_weights

    return load_weights(resolve_model(name))


def summary(model: str, method: str, lr: str, bf16: bool, steps: list[int], per_image: dict) -> None:
    print(
        f"\n{model} {method} lr={lr} bf16={bf16}, mean of {len(per_image)} images "
        f"(s/step {statistics.mean(r['seconds_per_step'] for r in per_image.values()):.2f})"
    )
    print("| steps | bpp | PSNR | MS-SSIM dB | cost | best step |")
    print("|---|---|---|---|---|---|")
    for i, n in enumerate(steps):
        rows = [r["rows"][i] for r in per_image.values()]
        dbs = [r["ms_ssim_db"] for r in rows if r["ms_ssim_db"] is not None]
        print(
            f"| {n} | {statistics.mean(r['bpp'] for r in rows):.4f} | "
            f"{statistics.mean(r['psnr'] for r in rows):.2f} | "
            f"{statistics.mean(dbs) if dbs else float('nan'):.2f} | "
            f"{statistics.mean(r['cost'] for r in rows):.3f} | "
            f"{','.join(str(r['best_step']) for r in rows)} |",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
