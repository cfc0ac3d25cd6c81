#!/usr/bin/env python3
"""Measure shipped weights on an evaluation folder through the real .cvq path and write their model cards.

Usage:
  python bench/model_card.py weights/cvqn-q*.safetensors --eval ../shared/data/kodak --codecs webp,heif \
      --machine "2-core AMD EPYC (AVX2), torch 2.13.0 CPU" --wall cvqn-q3="95 min" --wall cvqn-q1="7 min" ... \
      --history cvqn-q3="text" --json bench/kodak.json --plot bench/kodak-rd.png

One `cvq bench` run (cvqncodec.bench.run_bench) over every model and codec: prints the bench report
(tables, matched bpp, BD-rates) for bench/RESULTS.md, writes the CompressAI-style JSON and the RD plot, stores
each model's measured means in its file's ``cvqn.card`` metadata (under "kodak", shown by ``cvq models``;
the weights id covers the preset and tensors only, so it does not change) and writes weights/NAME.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from cvqncodec import __version__
from cvqncodec.bench import match_bpp, parse_codecs, plot, render_report, results_json, run_bench
from cvqncodec.imageio import list_images
from cvqncodec.text import fmt
from cvqncodec.weights import load_weights


def key_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def rounded(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)


def update_metadata(path: Path, extra: dict) -> None:
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    card = json.loads(meta.get("cvqn.card", "{}"))
    card.update(extra)
    meta["cvqn.card"] = json.dumps(card, sort_keys=True)
    tensors = load_file(str(path))
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)
    tmp.replace(path)


def extra_loss_terms(card: dict) -> str:
    """The terms a run added to Eq. 8: `` + 128 × MSE``, if any `` + 64 × MSE of the chroma ...``, and the rate
    term's weight λ when it is not 1."""
    text = f" + {card.get('mse_weight', 0):g} × MSE"
    if card.get("chroma_weight"):
        text += f" + {card['chroma_weight']:g} × MSE of the chroma (BT.601 Cb, Cr)"
    if card.get("rate_weight", 1.0) != 1.0:
        text += f"; rate term × λ = {card['rate_weight']:g}"
    return text


def finetune_rows(card: dict) -> list[str]:
    """The card's fine-tunes after the main training: context models (``--context-only``), then encoder
    (``--encoder-only``)."""
    rows = []
    ft = card.get("context_finetune")
    if ft:
        rows.append(
            f"| then: context models only | {ft['steps']} steps of quantization-aware fine-tuning of the integer "
            f"context models (encoder, quantizer, decoder frozen), batch {ft['batch_size']}, {ft['crop']}² crops, "
            f"{ft['lr_scale']:g}× the paper's entropy-model learning rate (`cvq train --context-only`) |"
        )
    ft = card.get("encoder_finetune")
    if ft:
        rows.append(
            f"| then: encoder only | {ft['steps']} steps of the encoder alone on Eq. 8{extra_loss_terms(ft)} "
            f"(decoder, quantizer and context models frozen bit for bit, so the weights id and every file stay "
            f"valid), batch {ft['batch_size']}, {ft['crop']}² crops, {ft['lr_scale']:g}× the paper's encoder "
            "learning rate (`cvq train --encoder-only`) |"
        )
    return rows


def card_text(
    loaded,
    path: Path,
    card: dict,
    kodak: dict,
    n_images: int,
    folder: str,
    machine: str,
    wall: str,
    history: str,
    codecs: str = "webp,heif",
) -> str:
    p = loaded.model.preset
    val = card.get("validation") or {}
    init = card.get("init")
    lines = [
        f"# {loaded.name}",
        "",
        f"CVQN model shipped with cvqncodec (weights id `{loaded.weights_id.hex()}`, fp16 safetensors, "
        f"{path.stat().st_size / 1e6:.1f} MB). Licence: GPL-3.0-or-later, like the code.",
        "",
        "| | |",
        "|---|---|",
        f"| preset | `{p.name}`: stage widths {'/'.join(map(str, p.widths))}, B = {p.blocks} RCAB per group, "
        f"context models of {p.context_filters} filters × {p.context_blocks} residual block |",
        f"| latent channels C | {p.latent_channels} |",
        f"| levels q / ratios r | {list(p.levels)} / {list(p.ratios)}: groups of "
        f"{list(loaded.model.controller.group_channels)} channels |",
        f"| channel importance | {p.importance} |",
        f"| training data | the project's training folder (`{card.get('data', '?')}`: CID22, Wikimedia Commons and "
        "Debian wallpapers; 8 images held out for validation; Kodak never used) |",
        f"| loss | Eq. 8 (α = 128, β = 0.001){extra_loss_terms(card)} |",
        f"| training | {card.get('steps', '?')} steps, batch {card.get('batch_size', '?')}, "
        f"{card.get('crop', '?')}² random crops with flips, Adam at {card.get('lr_scale', 1):g}× the paper's "
        f"per-part learning rates, ×0.2 at 50 % and 75 % of the steps; "
        f"{f'warm start from `{init}`' if init else 'from scratch'}{' (see below)' if history else ''} |",
        *finetune_rows(card),
        f"| wall time, machine | {wall} on {machine} |",
        f"| held-out validation (last) | MS-SSIM {val.get('ms_ssim', float('nan')):.4f}, PSNR "
        f"{val.get('psnr', float('nan')):.2f} dB, estimated {val.get('bpp', float('nan')):.3f} bpp "
        f"(centre crops ≤ 512 px) |",
    ]
    if history:
        lines += ["", history]
    lines += [
        "",
        f"## Kodak, measured {kodak['measured']} by the codec itself",
        "",
        f"All {n_images} images of `{folder}` through encode → `.cvq` file → decode (bpp from the real file "
        f"size, header included), cvqncodec {__version__}, CPU, torch {torch.__version__}:",
        "",
        "| bpp | PSNR (RGB) | MS-SSIM | MS-SSIM dB | encode s | decode s |",
        "|---|---|---|---|---|---|",
        f"| {kodak['bpp']:.4f} | {kodak['psnr']:.2f} | {fmt(kodak['ms_ssim'], 4)} | {fmt(kodak['ms_ssim_db'], 2)} | "
        f"{kodak['encode_s']:.2f} | {kodak['decode_s']:.2f} |",
        "",
    ]
    for codec, m in kodak.get("matched", {}).items():
        lines.append(
            f"{codec} at the same bpp (per image, the setting nearest our file's bpp): {m['bpp']:.4f} bpp; "
            f"ours − {codec} = {m['delta_ms_ssim']:+.4f} MS-SSIM ({m['delta_ms_ssim_db']:+.2f} dB)."
        )
    lines += [
        "",
        "Measured with `python bench/model_card.py weights/cvqn-q*.safetensors --eval "
        f"{folder} --codecs {codecs} ...` (see bench/RESULTS.md for the full table).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--eval", required=True)
    ap.add_argument("--codecs", default="webp,heif")
    ap.add_argument("--machine", required=True)
    ap.add_argument("--wall", action="append", default=[], help="NAME=training wall time")
    ap.add_argument("--history", action="append", default=[], help="NAME=markdown about how it was trained")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args()

    paths = [Path(w) for w in args.weights]
    models = {p: load_weights(p) for p in paths}
    walls, histories = key_values(args.wall), key_values(args.history)
    images = list_images(args.eval)
    codecs = parse_codecs(args.codecs)
    result = run_bench(images, paths, codecs, name="CVQN", progress=True)
    print(render_report(result, args.eval, matched=True))
    if args.json:
        Path(args.json).write_text(results_json(result))
    if args.plot:
        Path(args.plot).write_bytes(plot(result.curves, "CVQN", f"{len(images)} images of {args.eval}"))
    matches = match_bpp(result.records, "CVQN", result.codecs)
    today = datetime.date.today().isoformat()
    for point in result.curves["CVQN"]:
        path = Path(point.source)
        loaded = models[path]
        kodak = {
            "images": len(images),
            "bpp": round(point.bpp, 4),
            "psnr": round(point.psnr, 3),
            "ms_ssim": rounded(point.ms_ssim, 5),
            "ms_ssim_db": rounded(point.ms_ssim_db, 3),
            "encode_s": round(point.enc_s, 3),
            "decode_s": round(point.dec_s, 3),
            "measured": today,
            "cvqncodec": __version__,
            "machine": f"{platform.machine()}, torch {torch.__version__}",
            "matched": {
                m.codec: {
                    "bpp": round(m.bpp_theirs, 4),
                    "delta_ms_ssim": round(m.ms_ssim_diff, 5),
                    "delta_ms_ssim_db": round(m.ms_ssim_db_diff, 3),
                }
                for m in matches
                if m.ours == point.setting
            },
        }
        extra = {"kodak": kodak, "machine": args.machine, "wall_time": walls.get(loaded.name, "?")}
        update_metadata(path, extra)
        assert load_weights(path).weights_id == loaded.weights_id
        card = json.loads(safe_open(str(path), framework="pt").metadata()["cvqn.card"])
        path.with_suffix(".md").write_text(
            card_text(
                loaded,
                path,
                card,
                kodak,
                len(images),
                args.eval,
                args.machine,
                walls.get(loaded.name, "?"),
                histories.get(loaded.name, ""),
                args.codecs,
            )
        )
        print(f"wrote {path.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
