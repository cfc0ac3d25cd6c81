#!/usr/bin/env python3
"""How much tiling the transforms changes: tiled vs untiled encoder latent and decoder output.

    python bench/tile_seams.py IMAGE --model cvqn-q3 [--tile 16] [--halos 0,4,8,12]

Prints, per halo (latent px), the share of latent symbols equal to the untiled encoder's and the PSNR
between the tiled and untiled decoder outputs for the same latent. The coded latent itself is exact
whatever the tiling; this measures only the float transforms' seams.
"""

from __future__ import annotations

import argparse
import sys

import torch

from cvqncodec.imageio import load_image
from cvqncodec.metrics import psnr
from cvqncodec.model import pad_to_multiple
from cvqncodec.tiling import Tiling
from cvqncodec.weights import load_weights
from cvqncodec.zoo import resolve_model


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("image")
    ap.add_argument("--model", default=None)
    ap.add_argument("--tile", type=int, default=16, help="tile side in latent px (16 = 256 image px)")
    ap.add_argument("--halos", default="0,4,8,12")
    args = ap.parse_args()
    model = load_weights(resolve_model(args.model)).model
    x = pad_to_multiple(load_image(args.image).tensor)
    whole = Tiling(tile=1 << 20)
    with torch.no_grad():
        ref = model.quantize(x, whole)
        ref_image = model.reconstruct(ref, tiling=whole)
        print(f"{'halo':>5}{'equal symbols':>15}{'PSNR vs untiled':>17}")
        for halo in (int(h) for h in args.halos.split(",")):
            tiling = Tiling(tile=args.tile, halo=halo, analysis_halo=halo)
            lat = model.quantize(x, tiling)
            equal = sum(int((a == b).sum()) for a, b in zip(ref.groups, lat.groups))
            total = sum(a.numel() for a in ref.groups)
            out = model.reconstruct(ref, tiling=tiling)
            print(f"{halo:>5}{equal / total:>15.4f}{psnr(out, ref_image):>14.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
