#!/usr/bin/env python3
"""What the encoder network's tile halo costs in rate and quality on images larger than one transform tile.

    python bench/halo_rd.py --model cvqn-q3 --model cvqn-q5 [--halos 8,4,2] [--data ../shared/data/train]

Builds two 2048x1536 mosaics of twenty 512x512 training photos each (offset so that photo borders do not fall
on tile borders; never Kodak), codes them with each encoder halo (``Tiling.analysis_halo``; the decoder keeps
its own), decodes with the defaults and prints mean bpp (real files), PSNR and MS-SSIM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cvqncodec import codec, container
from cvqncodec.metrics import ms_ssim, psnr
from cvqncodec.tiling import Tiling
from cvqncodec.weights import load_weights
from cvqncodec.zoo import resolve_model

ROOT = Path(__file__).resolve().parent.parent


def mosaics(data: Path, count: int = 2) -> list[torch.Tensor]:
    """(1, 3, 1536, 2048) mosaics of 5 x 4 photos of 512 x 512, cropped at (300, 200)."""
    files = [p for p in sorted(data.glob("*.png")) if Image.open(p).size == (512, 512)]
    out = []
    for k in range(count):
        photos = [np.asarray(Image.open(f).convert("RGB")) for f in files[20 * k : 20 * k + 20]]
        grid = np.concatenate([np.concatenate(photos[5 * r : 5 * r + 5], 1) for r in range(4)], 0)
        crop = np.ascontiguousarray(grid[200 : 200 + 1536, 300 : 300 + 2048])
        out.append(torch.from_numpy(crop).permute(2, 0, 1).float().div(255).unsqueeze(0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None)
    ap.add_argument("--halos", default="8,4,2")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "train")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    images = mosaics(args.data)
    print("| model | encoder halo | bpp | PSNR | MS-SSIM |\n|---|---|---|---|---|")
    for model in args.model or ["cvqn-q3"]:
        loaded = load_weights(resolve_model(model))
        for halo in (int(h) for h in args.halos.split(",")):
            bpp = quality = similarity = 0.0
            for image in images:
                data = codec.encode(loaded, image, tiling=Tiling(analysis_halo=halo)).data
                decoded, _ = codec.decode(loaded, *container.unpack(data))
                bpp += len(data) * 8 / image[0, 0].numel() / len(images)
                quality += psnr(decoded, image) / len(images)
                similarity += ms_ssim(decoded, image) / len(images)
            print(f"| {model} | {halo} | {bpp:.5f} | {quality:.4f} | {similarity:.5f} |", flush=True)


if __name__ == "__main__":
    main()
