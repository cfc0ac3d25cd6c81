#!/usr/bin/env python3
"""The paper's ablations (Tables 1 and 2) with our trainer: six configurations x three seeds, one budget.

Usage:
  python bench/ablations.py --data ../shared/data/train --eval ../shared/data/kodak --out runs/ablations \
      --json bench/ablations.json [--steps 6000] [--seeds 0,1,2] [--jobs 2] [--preset compact] [--crop 128] \
      [--batch-size 4] [--lr-scale 4]
  python bench/ablations.py --json bench/ablations.json --table      # the markdown tables of what is recorded

Configurations (C = 32, r = [0.25, 0.5, 0.25] where there are three groups): q = [5] in one group; q = [3, 5, 7]
with predefined, SE and RE channel importance (Sec. 3.3; RE re-estimated on held-out training images every
1 000 steps, ``TrainConfig.re_every``); q = [4, 5, 6] and [2, 5, 8] with predefined importance. Every run
trains from scratch with the same preset, crops, steps and learning-rate schedule, then codes every image of
the evaluation folder through real .cvq files (bpp with header). One JSON row per finished run is appended to
``--json`` at once, so the script resumes where it stopped: recorded runs are skipped, and a run folder with a
checkpoint continues from it (``--out`` need not survive: a lost folder only costs its unfinished run).
``--jobs N`` trains N runs at once in separate processes of one thread each. A run that fails is reported at
once and the others go on (exit 1 at the end).

Run it from a copy of the code that does not change for hours (the workers import cvqncodec when they start
measuring; a checkout being edited can break them), e.g.
  git worktree add /work/abltree HEAD && PYTHONPATH=/work/abltree python /work/abltree/bench/ablations.py ...
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

ROWS = {
    "q5": dict(levels=(5,), ratios=(1.0,), importance="predefined"),
    "q357-predefined": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="predefined"),
    "q357-se": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="se"),
    "q357-re": dict(levels=(3, 5, 7), ratios=(0.25, 0.5, 0.25), importance="re"),
    "q456": dict(levels=(4, 5, 6), ratios=(0.25, 0.5, 0.25), importance="predefined"),
    "q258": dict(levels=(2, 5, 8), ratios=(0.25, 0.5, 0.25), importance="predefined"),
}
TABLES = {"1": ["q5", "q357-se", "q357-re", "q357-predefined"], "2": ["q5", "q456", "q357-predefined", "q258"]}
#: The paper's Tables 1 and 2 (Kodak, mean of three runs): (PSNR, MS-SSIM, bpp); PSNR is not given in Table 1.
PAPER = {
    "q5": (27.926, 0.9651, 0.2664),
    "q357-se": (None, 0.9650, 0.2608),
    "q357-re": (None, 0.9652, 0.2586),
    "q357-predefined": (28.024, 0.9653, 0.2576),
    "q456": (28.012, 0.9652, 0.2639),
    "q258": (27.982, 0.9644, 0.2471),
}


@dataclass(frozen=True)
class Budget:
    """What every run shares; a recorded row counts only for the budget it was trained with."""

    preset: str = "compact"
    channels: int = 32
    steps: int = 6000
    crop: int = 128
    batch_size: int = 4
    lr_scale: float = 4.0


@dataclass(frozen=True)
class Job:
    row: str
    seed: int
    budget: Budget
    data: str
    eval: str
    out: str
    limit: int | None


def run_job(job: Job) -> dict:
    """Train one configuration with one seed (resuming its run folder) and measure it through real files."""
    import torch

    from cvqncodec.bench import run_bench
    from cvqncodec.imageio import list_images
    from cvqncodec.presets import get_preset
    from cvqncodec.train import TrainConfig, train

    torch.set_num_threads(1)
    b, spec = job.budget, ROWS[job.row]
    run = Path(job.out) / f"{job.row}-seed{job.seed}"
    run.mkdir(parents=True, exist_ok=True)
    preset = get_preset(b.preset, latent_channels=b.channels, **spec)
    cfg = TrainConfig(
        data=job.data,
        out=str(run),
        steps=b.steps,
        batch_size=b.batch_size,
        crop=b.crop,
        lr_scale=b.lr_scale,
        seed=job.seed,
        val_every=max(1, b.steps // 4),
        name=f"ablation-{job.row}-seed{job.seed}",
    )
    t0 = time.time()
    with open(run / "train.log", "a") as log:
        train(preset, cfg, resume=True, progress=False, log=lambda m: print(m, file=log, flush=True))
    minutes = (time.time() - t0) / 60
    images = list_images(job.eval, job.limit)
    point = run_bench(images, [run / "model.safetensors"], [], name=job.row, progress=False).curves[job.row][0]
    return {
        "row": job.row,
        "levels": list(spec["levels"]),
        "importance": spec["importance"],
        "seed": job.seed,
        "steps": b.steps,
        "images": point.images,
        "bpp": round(point.bpp, 6),
        "ms_ssim": None if point.ms_ssim is None else round(point.ms_ssim, 6),
        "psnr": round(point.psnr, 4),
        "budget": asdict(b),
        "train_minutes": round(minutes, 1),
    }


def read_rows(path: Path) -> list[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def append_row(path: Path, row: dict) -> None:
    """Add ``row`` to the JSON list at ``path`` (written to a temporary file, then renamed)."""
    rows = read_rows(path) + [row]
    rows.sort(key=lambda r: (list(ROWS).index(r["row"]), r["seed"], json.dumps(r["budget"], sort_keys=True)))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, path)


def pending_jobs(args: argparse.Namespace, budget: Budget, rows: list[dict]) -> list[Job]:
    done = {(r["row"], r["seed"]) for r in rows if r["budget"] == asdict(budget)}
    return [
        Job(name, seed, budget, args.data, args.eval, args.out, args.limit)
        for seed in args.seeds
        for name in args.rows
        if (name, seed) not in done
    ]


def measured(rows: list[dict], key: str) -> list[float]:
    """The values of ``key`` in ``rows`` (MS-SSIM is None for images too small for it)."""
    return [r[key] for r in rows if r[key] is not None]


def mean_sd(values: list[float], digits: int) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def tables(rows: list[dict], budget: Budget | None = None) -> str:
    """Markdown: per table, mean ± standard deviation over seeds beside the paper's means; then the orderings."""
    if budget is None and rows:
        budget = Budget(**rows[-1]["budget"])
    rows = [r for r in rows if budget is not None and r["budget"] == asdict(budget)]
    by_row = {name: [r for r in rows if r["row"] == name] for name in ROWS}
    means = {
        name: {k: statistics.mean(measured(rs, k) or [float("nan")]) for k in ("bpp", "ms_ssim", "psnr")}
        for name, rs in by_row.items()
        if rs
    }
    lines = [f"Budget: {asdict(budget) if budget else 'none recorded'}", ""]
    for table, names in TABLES.items():
        lines += [
            f"Table {table}",
            "",
            "| q | importance | seeds | PSNR | MS-SSIM | bpp | bpp vs [5] | paper: PSNR, MS-SSIM, bpp (vs [5]) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name in names:
            rs, (p_psnr, p_ms, p_bpp) = by_row[name], PAPER[name]
            paper = (
                f"{p_psnr if p_psnr else '–'}, {p_ms:.4f}, {p_bpp:.4f} ({100 * (p_bpp / PAPER['q5'][2] - 1):+.2f} %)"
            )
            if not rs:
                lines.append(f"| {list(ROWS[name]['levels'])} | {ROWS[name]['importance']} | 0 | | | | | {paper} |")
                continue
            rel = f"{100 * (means[name]['bpp'] / means['q5']['bpp'] - 1):+.2f} %" if "q5" in means else "n/a"
            lines.append(
                f"| {list(ROWS[name]['levels'])} | {ROWS[name]['importance']} | {len(rs)} | "
                f"{mean_sd(measured(rs, 'psnr'), 3)} | {mean_sd(measured(rs, 'ms_ssim'), 4)} | "
                f"{mean_sd(measured(rs, 'bpp'), 4)} | {rel} | {paper} |"
            )
        lines.append("")
    lines += ["The paper's orderings (means over the seeds recorded here):", ""] + orderings(means)
    return "\n".join(lines)


def orderings(means: dict[str, dict[str, float]]) -> list[str]:
    """Each ordering the paper's tables show, with whether our means show it too."""
    claims = [
        ("q357-predefined", "q5", "bpp", "<", "[3,5,7] predefined codes smaller files than [5]"),
        ("q357-predefined", "q5", "ms_ssim", ">=", "[3,5,7] predefined has MS-SSIM at least [5]'s"),
        ("q357-se", "q5", "bpp", "<", "[3,5,7] SE codes smaller files than [5]"),
        ("q357-re", "q5", "bpp", "<", "[3,5,7] RE codes smaller files than [5]"),
        ("q357-predefined", "q357-se", "bpp", "<", "predefined importance beats SE on bpp"),
        ("q357-predefined", "q357-re", "bpp", "<", "predefined importance beats RE on bpp"),
        ("q357-re", "q357-se", "bpp", "<", "RE beats SE on bpp"),
        ("q456", "q5", "bpp", "<", "[4,5,6] codes smaller files than [5]"),
        ("q357-predefined", "q456", "bpp", "<", "[3,5,7] codes smaller files than [4,5,6]"),
        ("q258", "q357-predefined", "bpp", "<", "[2,5,8] codes the smallest files"),
        ("q258", "q357-predefined", "ms_ssim", "<", "[2,5,8] loses MS-SSIM against [3,5,7]"),
    ]
    out = []
    for a, b, key, op, text in claims:
        if a not in means or b not in means:
            out.append(f"- {text}: not measured yet")
            continue
        x, y = means[a][key], means[b][key]
        if x != x or y != y:  # NaN: no image was large enough for MS-SSIM
            out.append(f"- {text}: not measured ({key} n/a)")
            continue
        holds = x < y if op == "<" else x >= y
        out.append(f"- {text}: {'holds' if holds else 'does not hold'} ({key} {x:.4f} vs {y:.4f})")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, required=True, help="the rows recorded so far (read and appended)")
    ap.add_argument("--table", action="store_true", help="print the tables of --json and exit")
    ap.add_argument("--data", help="training images")
    ap.add_argument("--eval", help="evaluation images (all of Kodak)")
    ap.add_argument("--out", help="run folders")
    ap.add_argument("--rows", type=lambda s: s.split(","), default=list(ROWS), help="comma-separated names")
    ap.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (one thread each)")
    ap.add_argument("--limit", type=int, default=None, help="evaluate on the first N images only (tests)")
    for f in Budget.__dataclass_fields__.values():
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = ap.parse_args(argv)
    if not args.table and not (args.data and args.eval and args.out):
        ap.error("--data, --eval and --out are needed to run (or --table to print)")
    if unknown := [r for r in args.rows if r not in ROWS]:
        ap.error(f"unknown rows {unknown}; known: {', '.join(ROWS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    budget = Budget(**{k: getattr(args, k) for k in Budget.__dataclass_fields__})
    if args.table:
        print(tables(read_rows(args.json), budget))
        return 0
    jobs = pending_jobs(args, budget, read_rows(args.json))
    print(f"{len(jobs)} runs to go, {args.jobs} at a time", file=sys.stderr)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for fut in as_completed(futures):
            try:
                row = fut.result()
            except Exception as exc:  # say so now, keep the others' rows (they run for hours)
                job, failed = futures[fut], failed + 1
                print(f"{job.row} seed {job.seed} failed: {exc!r}", file=sys.stderr, flush=True)
                continue
            append_row(args.json, row)
            print(
                f"{row['row']} seed {row['seed']}: bpp {row['bpp']:.4f} MS-SSIM {row['ms_ssim']} "
                f"PSNR {row['psnr']:.3f} ({row['train_minutes']} min)",
                file=sys.stderr,
                flush=True,
            )
    print(tables(read_rows(args.json), budget))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
