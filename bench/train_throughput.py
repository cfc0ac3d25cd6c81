"""Training throughput: seconds per optimizer step for presets x crop sizes x precision.

Usage:
  OMP_NUM_THREADS=1 python bench/train_throughput.py --presets compact,small --crops 128,256 --threads 1

Each row times the real training step of `cvq train` (``cvqncodec.train.loss_terms`` + ``optimizer_step``:
backward, clipping, Adam; batch 8, channels_last on the 2D parts as the trainer does) on random images, after
warm-up steps, and reports the median of the timed steps. bf16 rows run only where ``bf16_is_fast`` says the
kernels exist (AVX-512 BF16 / AMX or a bf16 GPU), as the trainer decides. Record results in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.train import (
    TrainConfig,
    bf16_is_fast,
    loss_terms,
    ms_ssim_window,
    optimizer_step,
    parameter_groups,
    use_channels_last,
)


def seconds_per_step(preset_name: str, crop: int, bf16: bool, batch: int, warmup: int, steps: int) -> float:
    torch.manual_seed(0)
    model = CVQN(get_preset(preset_name))
    use_channels_last(model)
    cfg = TrainConfig(data="", out="", batch_size=batch, crop=crop)
    opt = torch.optim.Adam(parameter_groups(model, cfg))
    win = ms_ssim_window(crop)
    times = []
    for i in range(warmup + steps):
        x = torch.rand(batch, 3, crop, crop).contiguous(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        loss, *_ = loss_terms(model, x, cfg, win, bf16)
        optimizer_step(model, opt, loss)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="compact,small")
    ap.add_argument("--crops", default="128,256")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--no-fp32", action="store_true", help="Time only bf16 (where it is fast).")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    precisions = ([] if args.no_fp32 else [False]) + ([True] if bf16_is_fast(torch.device("cpu")) else [])
    print(f"threads {args.threads}, batch {args.batch}, median of {args.steps} steps after {args.warmup} warm-up")
    print("| preset | params | crop | precision | s/step | steps/s |")
    print("|---|---|---|---|---|---|")
    for name in args.presets.split(","):
        params = sum(p.numel() for p in CVQN(get_preset(name)).parameters()) / 1e6
        for crop in (int(c) for c in args.crops.split(",")):
            for bf16 in precisions:
                s = seconds_per_step(name, crop, bf16, args.batch, args.warmup, args.steps)
                print(
                    f"| {name} | {params:.2f} M | {crop}² | {'bf16 autocast' if bf16 else 'float32'} "
                    f"| {s:.3f} | {1 / s:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
