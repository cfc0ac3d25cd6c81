#!/usr/bin/env python3
"""Can the encoder learn what the ``--effort`` search finds? Distil refined latents back into it (#25).

  python bench/distill_encoder.py targets weights/cvqn-q4.safetensors runs/q4med/split.json T0.pt --shard 0/2
  python bench/distill_encoder.py train weights/cvqn-q4.safetensors runs/q4med/split.json T0.pt,T1.pt RUN_DIR \
      --kappa 1000 --lr 2.5e-5 --steps 1000

``targets``: fixed 256² crops of a run's training images (split.json "train"; never Kodak), each refined with
:func:`cvqncodec.refine.refine` (``--refine-steps``, the model's own loss); saves the crops and the refined
encoder outputs Z*. ``--shard i/n`` does every n-th crop, so n one-thread processes share the work.
``train``: the encoder alone (decoder, quantizers and context models frozen, as ``cvq train --encoder-only``) on
``--rd-weight`` x the model's loss + kappa |Z - Z*|² / Var(Z*), Adam with the x0.2 drops at 50 % and 75 %;
validates on the split's held-out images every ``--val-every`` steps (history.jsonl) and writes
RUN_DIR/model.safetensors, which decodes the files of the original model (same decoder side).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from cvqncodec.refine import RefineSettings, refine
from cvqncodec.train.config import TrainConfig
from cvqncodec.train.data import CropSampler, load_images
from cvqncodec.train.loss import freeze_for_finetune, loss_terms, lr_factor, optimizer_step
from cvqncodec.train.validation import validate
from cvqncodec.weights import load_weights, save_weights

CROP = 256


def split_images(split: str, part: str) -> list[np.ndarray]:
    return load_images([Path(p) for p in json.loads(Path(split).read_text())[part]], 768)


def make_targets(a: argparse.Namespace) -> None:
    loaded = load_weights(a.model)
    loaded.model.eval()
    shard, shards = (int(v) for v in a.shard.split("/"))
    crops = CropSampler(split_images(a.split, "train"), CROP, seed=123).batch(a.crops)[shard::shards]
    settings, zs, costs, t0 = RefineSettings(steps=a.refine_steps), [], [], time.time()
    for i in range(len(crops)):
        r = refine(loaded, crops[i : i + 1], settings)
        zs.append(r.z[0].half())
        costs.append((r.start.total, r.best.total, r.start.ms_ssim, r.best.ms_ssim, r.start.rate, r.best.rate))
        if i % 25 == 0:
            c = np.array(costs).mean(0)
            print(f"{i + 1}/{len(crops)} {time.time() - t0:.0f} s: cost {c[0]:.3f} -> {c[1]:.3f}", flush=True)
    torch.save({"x": (crops * 255).round().to(torch.uint8), "z": torch.stack(zs), "costs": costs}, a.out)


def train(a: argparse.Namespace) -> None:
    parts = [torch.load(f) for f in a.out.split(",")]
    crops, targets = torch.cat([p["x"] for p in parts]), torch.cat([p["z"] for p in parts]).float()
    loaded = load_weights(a.model)
    model, z_var = loaded.model.train(), targets.var().item()
    freeze_for_finetune(model, "encoder")
    opt = torch.optim.Adam([p for m in model.encoder_modules() for p in m.parameters()], lr=a.lr)
    card_terms = {k: loaded.card[k] for k in ("mse_weight", "chroma_weight", "rate_weight") if k in loaded.card}
    cfg = TrainConfig(data="", out=a.run, **card_terms)  # the loss the model was trained on
    val, rng, run = split_images(a.split, "val"), np.random.default_rng(0), Path(a.run)
    run.mkdir(parents=True, exist_ok=True)
    latent = {}
    model.encoder.register_forward_hook(lambda _m, _i, out: latent.update(z=out.float()))
    print(f"{len(crops)} crops; step 0: {validate(model, val, torch.device('cpu'))}", flush=True)
    for step in range(1, a.steps + 1):
        opt.param_groups[0]["lr"] = a.lr * lr_factor(step - 1, a.steps)
        idx = torch.from_numpy(rng.integers(len(crops), size=a.batch_size))
        rd = loss_terms(model, crops[idx].float() / 255, cfg, win=11, bf16=True)[0]
        distil = torch.mean((latent["z"] - targets[idx]) ** 2) / z_var
        optimizer_step(model, opt, a.rd_weight * rd + a.kappa * distil)
        if step % 50 == 0:
            print(f"step {step}: loss {rd.item():.3f}, |Z - Z*|^2 / Var {distil.item():.4f}", flush=True)
        if step % a.val_every == 0 or step == a.steps:
            v = {**validate(model, val, torch.device("cpu")), "step": step}
            print(f"validation {v}", flush=True)
            with open(run / "history.jsonl", "a") as f:
                f.write(json.dumps(v) + "\n")
            out = run / "model.safetensors"
            save_weights(model, out, loaded.name, dict(loaded.card), build_tables=False, same_decoder_as=loaded)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["targets", "train"])
    p.add_argument("model", help="weights file to start from")
    p.add_argument("split", help="a run's split.json (training and held-out images)")
    p.add_argument("out", help="targets file to write (targets) or comma-separated ones to read (train)")
    p.add_argument("run", nargs="?", default="runs/distil", help="run folder (train)")
    p.add_argument("--crops", type=int, default=400)
    p.add_argument("--refine-steps", type=int, default=20, help="steps of the search (20 = --effort 5)")
    p.add_argument("--shard", default="0/1")
    p.add_argument("--kappa", type=float, default=1000.0)
    p.add_argument("--rd-weight", type=float, default=1.0, help="weight of the model's loss (0: distil only)")
    p.add_argument("--lr", type=float, default=2.5e-5)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--val-every", type=int, default=250)
    a = p.parse_args()
    torch.manual_seed(0)
    make_targets(a) if a.command == "targets" else train(a)


if __name__ == "__main__":
    main()
