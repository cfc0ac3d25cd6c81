#!/usr/bin/env python3
"""The paper's ablations (Tables 1 and 2) with our trainer: same seed, same budget for every row.

Usage:
  python bench/ablations.py --data ../shared/data/train --eval ../shared/data/kodak --out runs/ablations \
      [--table 1|2|both] [--steps 3000] [--preset compact] [--channels 32] [--crop 128] [--lr-scale 4]

Table 1: q = [5] (one group) against q = [3, 5, 7] with SE, RE and predefined channel importance.
Table 2: q = [5], [4, 5, 6], [3, 5, 7], [2, 5, 8], predefined importance, r = [0.25, 0.5, 0.25].
Each row trains from scratch (seed 0) for the same number of steps, then is measured on the evaluation
folder through the real .cvq path (bpp of real files). Rows that already have RUN/model.safetensors from a
finished run are measured again without retraining, so the script can be resumed. Prints a markdown table
for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from cvqncodec.bench import run_bench
from cvqncodec.imageio import list_images
from cvqncodec.presets import get_preset
from cvqncodec.train import TrainConfig, train

ROWS = {
    "q5": dict(levels=(5,), ratios=(1.0,), importance="predefined"),
    "q357-se": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="se"),
    "q357-re": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="re"),
    "q357-predefined": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="predefined"),
    "q456": dict(levels=(4, 5, 6), ratios=(0.25, 0.5, 0.25), importance="predefined"),
    "q258": dict(levels=(2, 5, 8), ratios=(0.25, 0.5, 0.25), importance="predefined"),
}
TABLES = {"1": ["q5", "q357-se", "q357-re", "q357-predefined"], "2": ["q5", "q456", "q357-predefined", "q258"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--table", choices=["1", "2", "both"], default="both")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--preset", default="compact")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr-scale", type=float, default=4.0)
    ap.add_argument("--limit", type=int, default=None, help="evaluate on the first N images only")
    args = ap.parse_args()

    names = (
        TABLES["1"] + [r for r in TABLES["2"] if r not in TABLES["1"]] if args.table == "both" else TABLES[args.table]
    )
    images = list_images(args.eval, args.limit)
    results = {}
    for name in names:
        run = Path(args.out) / name
        weights = run / "model.safetensors"
        finished = (
            weights.exists()
            and (run / "checkpoint.pt").exists()
            and torch.load(run / "checkpoint.pt", weights_only=True)["step"] >= args.steps
        )
        if not finished:
            preset = get_preset(args.preset, latent_channels=args.channels, **ROWS[name])
            cfg = TrainConfig(
                data=args.data,
                out=str(run),
                steps=args.steps,
                batch_size=args.batch_size,
                crop=args.crop,
                lr_scale=args.lr_scale,
                seed=0,
                name=f"ablation-{name}",
            )
            train(preset, cfg, resume=True, progress=True, log=lambda m: print(m, file=sys.stderr))
        res = run_bench(images, [weights], [], name=name, progress=True)
        results[name] = res.curves[name][0]

    print(
        f"\nSame budget per row: preset {args.preset}, C = {args.channels}, {args.steps} steps, "
        f"batch {args.batch_size}, {args.crop}² crops, lr x{args.lr_scale}, seed 0; "
        f"measured on {len(images)} images of {args.eval} (real .cvq files).\n"
    )
    base = results.get("q5")
    for table in ["1", "2"] if args.table == "both" else [args.table]:
        print(f"Table {table}\n\n| row | q | importance | PSNR | MS-SSIM | bpp | bpp vs q = [5] |")
        print("|---|---|---|---|---|---|---|")
        for name in TABLES[table]:
            p = results[name]
            rel = f"{100 * (p.bpp / base.bpp - 1):+.2f} %" if base else "n/a"
            ms = "n/a" if p.ms_ssim is None else f"{p.ms_ssim:.4f}"
            print(
                f"| {name} | {list(ROWS[name]['levels'])} | {ROWS[name]['importance']} | {p.psnr:.3f} | "
                f"{ms} | {p.bpp:.4f} | {rel} |"
            )
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
