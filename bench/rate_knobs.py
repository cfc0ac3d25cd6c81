#!/usr/bin/env python3
"""Two encoder-side ways to shrink one model's file continuously, measured (bench/RESULTS.md, session 15).

- ``rdoq``: each latent value takes the symbol minimizing (z - mu_s)^2 + LAMBDA * bits_s, with bits_s the exact
  code length of symbol s under the integer context model's CDF at that position (computed once, from the
  plain latent's contexts).
- ``drop``: the K least useful latent channels (ranked by MS-SSIM dB lost per byte saved when each is set alone
  to its most frequent symbol) all set to their most frequent symbol.

Real files (packed and decoded); prints bytes, bpp, MS-SSIM dB and PSNR per setting:

    python bench/rate_knobs.py rdoq cvqn-q4 ../shared/data/train/clic25test_1b4ad095795ac552.png
    python bench/rate_knobs.py drop cvqn-q4 ../shared/data/train/clic25test_1b4ad095795ac552.png
"""

from __future__ import annotations

import argparse

import torch

from cvqncodec import codec
from cvqncodec.imageio import load_image
from cvqncodec.metrics import ms_ssim, ms_ssim_db, psnr
from cvqncodec.model import QuantizedLatent, pad_to_multiple
from cvqncodec.tiling import DEFAULT_TILING, analyse
from cvqncodec.weights import load_weights
from cvqncodec.zoo import resolve_model


def measure(loaded, latent: QuantizedLatent, x: torch.Tensor) -> tuple[int, float, float]:
    """(bytes, MS-SSIM dB, PSNR) of the real file of ``latent``."""
    h, w = x.shape[-2:]
    data = codec.pack_latent(loaded, latent, h, w)
    rec = loaded.model.reconstruct(latent)[:, :, :h, :w]
    return len(data), ms_ssim_db(ms_ssim(x, rec)), psnr(x, rec)


def symbol_probabilities(evaluator, symbols: torch.Tensor) -> torch.Tensor:
    """(C, h, w, levels) probabilities of every symbol at every position, from the exact integer CDFs."""
    order, cdf = evaluator.cdfs_in_order(symbols)
    c = cdf.to(torch.int64) & 0xFFFF
    c[:, -1] = 1 << 16
    p = (c[:, 1:] - c[:, :-1]).double() / (1 << 16)
    out = torch.empty_like(p)
    out[order] = p
    return out.reshape(*symbols.shape, -1)


def rdoq(loaded, x: torch.Tensor, lambdas: list[float]) -> None:
    m = loaded.model
    with torch.no_grad():
        z = analyse(m.encoder, pad_to_multiple(x), m.preset.latent_channels, DEFAULT_TILING)
        zz, w = m.controller.weigh(z)
        perm = m.controller.order(w)
        groups = [g[0] for g in m.controller.split(zz, perm)]
        plain = [q.symbols(g) for q, g in zip(m.controller.quantizers, groups)]
        probs = [symbol_probabilities(ev, s) for ev, s in zip(loaded.evaluators, plain)]
        for lam in lambdas:
            syms = []
            for q, g, p in zip(m.controller.quantizers, groups, probs):
                cost = (g.unsqueeze(-1) - q.mu.detach()) ** 2 - lam * torch.log2(p.clamp_min(1e-9)).float()
                syms.append(cost.argmin(-1))
            print("lambda", lam, *measure(loaded, QuantizedLatent(syms, perm), x))


def drop(loaded, x: torch.Tensor, counts: list[int]) -> None:
    latent = loaded.model.quantize(pad_to_multiple(x))
    channels = [(g, c) for g, s in enumerate(latent.groups) for c in range(s.shape[0])]

    def dropped(chosen):
        groups = [s.clone() for s in latent.groups]
        for g, c in chosen:
            groups[g][c] = torch.bincount(groups[g][c].flatten()).argmax()
        return QuantizedLatent(groups, latent.permutation)

    base = measure(loaded, latent, x)
    print("plain", *base)
    ranked = []
    for gc in channels:
        n, db, _ = measure(loaded, dropped([gc]), x)
        ranked.append(((base[1] - db) / max(base[0] - n, 1), gc))
    order = [gc for _, gc in sorted(ranked)]
    for k in counts:
        print("channels", k, *measure(loaded, dropped(order[:k]), x))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("knob", choices=["rdoq", "drop"])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--lambdas", default="0,0.01,0.03,0.1,0.3,1,3")
    ap.add_argument("--counts", default="2,4,8,12,16,24")
    args = ap.parse_args()
    torch.set_num_threads(1)
    loaded = load_weights(resolve_model(args.model))
    x = load_image(args.image).tensor
    if args.knob == "rdoq":
        rdoq(loaded, x, [float(v) for v in args.lambdas.split(",")])
    else:
        drop(loaded, x, [int(v) for v in args.counts.split(",")])


if __name__ == "__main__":
    main()
