#!/usr/bin/env python3
"""Measure a weights file on an evaluation folder through the real .cvq path and write its model card.

Usage:
  python bench/model_card.py weights/cvqn-q3.safetensors --eval ../shared/data/kodak \
      --trained "compact preset, 8000 steps, 128² crops, batch 8" --wall "95 min" --machine "2-core AMD EPYC (AVX2)"

Writes weights/NAME.md and stores the measured means in the file's ``cvqn.card`` metadata (under "kodak"),
which ``cvq models`` shows. The weights id covers the preset and tensors only, so it does not change.
Also codes the folder with WebP and reports WebP's MS-SSIM at our bpp (per image, nearest quality).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from cvqncodec import __version__
from cvqncodec.bench import list_images, match_bpp, run_bench
from cvqncodec.weights import load_weights


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--eval", required=True, help="evaluation folder (Kodak)")
    ap.add_argument("--trained", required=True, help="one line: how it was trained")
    ap.add_argument("--wall", required=True, help="training wall time")
    ap.add_argument("--machine", required=True, help="training machine")
    ap.add_argument("--notes", default="", help="extra markdown for the card")
    args = ap.parse_args()

    path = Path(args.weights)
    lm = load_weights(path)
    p = lm.model.preset
    images = list_images(args.eval)
    res = run_bench(images, [path], ["webp"], name="CVQN", progress=True)
    ours = res.curves["CVQN"][0]
    matches = [m for m in match_bpp(res.records, "CVQN", ["WebP"])]
    webp = matches[0] if matches else None
    kodak = {"images": len(images), "bpp": round(ours.bpp, 4), "psnr": round(ours.psnr, 3),
             "ms_ssim": round(ours.ms_ssim, 5), "ms_ssim_db": round(ours.ms_ssim_db, 3),
             "encode_s": round(ours.enc_s, 3), "decode_s": round(ours.dec_s, 3),
             "measured": datetime.date.today().isoformat(), "cvqncodec": __version__}
    if webp is not None:
        kodak["webp_at_same_bpp"] = {"bpp": round(webp.bpp_theirs, 4),
                                     "ms_ssim": round(ours.ms_ssim - webp.ms_ssim_diff, 5),
                                     "delta_ms_ssim": round(webp.ms_ssim_diff, 5),
                                     "delta_ms_ssim_db": round(webp.ms_ssim_db_diff, 3)}

    # Re-save with the measurement in the metadata (same tensors, same weights id).
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    card = json.loads(meta.get("cvqn.card", "{}"))
    card.update(kodak=kodak, trained=args.trained, wall_time=args.wall, machine=args.machine)
    meta["cvqn.card"] = json.dumps(card, sort_keys=True)
    tensors = load_file(str(path))
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    assert load_weights(path).weights_id == lm.weights_id

    val = card.get("validation") or {}
    lines = [
        f"# {lm.name}",
        "",
        f"CVQN model shipped with cvqncodec (weights id `{lm.weights_id.hex()}`, fp16 safetensors, "
        f"{path.stat().st_size / 1e6:.1f} MB).",
        "",
        "| | |", "|---|---|",
        f"| preset | `{p.name}`: widths {'/'.join(map(str, p.widths))}, B = {p.blocks}, "
        f"context model {p.context_filters} filters × {p.context_blocks} residual block(s) |",
        f"| latent channels C | {p.latent_channels} |",
        f"| levels q / ratios r | {list(p.levels)} / {list(p.ratios)} (groups of {list(lm.model.controller.group_channels)} channels) |",
        f"| channel importance | {p.importance} |",
        f"| training data | `{card.get('data', '?')}` (the project's training folder: CID22, Wikimedia Commons and "
        f"Debian wallpapers; 8 images held out for validation; never Kodak) |",
        f"| training | {args.trained}; warm start: {card.get('init') or 'none (from scratch)'} |",
        f"| iterations | {card.get('steps', '?')} |",
        f"| wall time / machine | {args.wall} on {args.machine} |",
        f"| validation (held-out, last) | MS-SSIM {val.get('ms_ssim', float('nan')):.4f}, PSNR "
        f"{val.get('psnr', float('nan')):.2f} dB, estimated {val.get('bpp', float('nan')):.3f} bpp |",
        "",
        f"## Kodak ({len(images)} images), measured {kodak['measured']} by the codec itself",
        "",
        "Real `.cvq` files (header included) through encode → file → decode, cvqncodec "
        f"{__version__}, CPU ({platform.machine()}), torch {torch.__version__}:",
        "",
        "| bpp | PSNR (RGB) | MS-SSIM | MS-SSIM dB | encode s | decode s |",
        "|---|---|---|---|---|---|",
        f"| {ours.bpp:.4f} | {ours.psnr:.2f} | {ours.ms_ssim:.4f} | {ours.ms_ssim_db:.2f} | {ours.enc_s:.2f} | "
        f"{ours.dec_s:.2f} |",
        "",
    ]
    if webp is not None:
        lines += [f"WebP (Pillow, per image the quality nearest our bpp): {webp.bpp_theirs:.4f} bpp, MS-SSIM "
                  f"{ours.ms_ssim - webp.ms_ssim_diff:.4f}; ours − WebP = {webp.ms_ssim_diff:+.4f} MS-SSIM "
                  f"({webp.ms_ssim_db_diff:+.2f} dB).", ""]
    lines += [f"Command: `python bench/model_card.py {path} --eval {args.eval} ...`", ""]
    if args.notes:
        lines += [args.notes, ""]
    card_path = path.with_suffix(".md")
    card_path.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
