#!/usr/bin/env python3
"""What the exact integer context model costs in rate: float network vs integer tables, on real images.

For every weights file and image: the latent's ideal code length under (a) the plain float context
model (no quantization simulated; what a float decoder would use), (b) the integer tables the codec
codes with (exact CDFs, 16-bit), and the real .cvq file size. Weights of the old format (no tables)
get tables built from their float weights first (post-training quantization), so this also measures
what the quantization-aware fine-tune (``cvq train --context-only``) gains. The last two columns are the
training-time estimate (the simulated integer network) in float32 and with its convolutions in bf16.

    python bench/integer_rate.py weights/cvqn-q3.safetensors --images ../shared/data/kodak
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from cvqncodec import codec
from cvqncodec.entropy import cdf_bits
from cvqncodec.imageio import load_image
from cvqncodec.model import pad_to_multiple
from cvqncodec.weights import LoadedModel, load_for_training, weights_id

#: (column, simulate the integer network, convolutions in bf16) of the context models' estimates.
VARIANTS = (("float_bpp", False, False), ("simulated_bpp", True, False), ("simulated_bf16_bpp", True, True))


def load_with_tables(path: str) -> LoadedModel:
    model = load_for_training(path)
    if not model.has_integer_tables():
        model.build_integer_tables()
    model.eval()
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    return LoadedModel(Path(path).stem, model, weights_id(state, model.preset), {}, Path(path))


@torch.no_grad()
def measure(loaded: LoadedModel, image: torch.Tensor) -> dict:
    model = loaded.model
    x = pad_to_multiple(image)
    latent = model.quantize(x)
    bits = dict.fromkeys(("float_bpp", "simulated_bpp", "simulated_bf16_bpp", "integer_bpp"), 0.0)
    for cm, q, ev, sym in zip(model.context_models, model.controller.quantizers, loaded.evaluators, latent.groups):
        values, target = q.mu.detach()[sym][None], sym[None]
        for key, simulate, bf16 in (
            ("float_bpp", False, False),
            ("simulated_bpp", True, False),
            ("simulated_bf16_bpp", True, True),
        ):
            logits = cm(values, simulate_integer=simulate, bf16=bf16)
            bits[key] += float(F.cross_entropy(logits, target, reduction="sum")) / math.log(2)
        order, _ = ev.coding_order(tuple(sym.shape))
        bits["integer_bpp"] += cdf_bits(ev.all_cdfs(sym), sym.reshape(-1)[order])
    file_bytes = len(codec.encode(loaded, image).data)
    pixels = image.shape[-1] * image.shape[-2]
    return {**{k: v / pixels for k, v in bits.items()}, "file_bpp": 8 * file_bytes / pixels}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--images", required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    files = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".png", ".jpg", ".ppm"))
    files = files[: args.limit] if args.limit else files
    images = [load_image(str(f)).tensor for f in files]
    results = {}
    print(
        f"{'weights':<40}{'float bpp':>11}{'integer bpp':>13}{'cost':>8}{'file bpp':>10}{'sim bpp':>10}{'sim bf16':>10}"
    )
    for path in args.weights:
        loaded = load_with_tables(path)
        rows = [measure(loaded, im) for im in images]
        mean = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        mean["cost_pct"] = 100 * (mean["integer_bpp"] / mean["float_bpp"] - 1)
        results[path] = mean
        print(
            f"{path:<40}{mean['float_bpp']:>11.4f}{mean['integer_bpp']:>13.4f}{mean['cost_pct']:>7.3f}%"
            f"{mean['file_bpp']:>10.4f}{mean['simulated_bpp']:>10.5f}{mean['simulated_bf16_bpp']:>10.5f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"images": len(files), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
