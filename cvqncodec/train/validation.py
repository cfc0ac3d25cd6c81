"""Held-out validation (MS-SSIM, PSNR, estimated bpp, colour) and the reconstruction-error importance of Eq. 6."""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..metrics import chroma_spread, colour_error, psnr
from ..metrics import ms_ssim as ms_ssim_8bit
from ..model import CVQN
from ..presets import DOWNSAMPLING

#: Longest side of the centre crop validated per image.
VALIDATION_MAX_SIDE = 512


def centre_crop(im: np.ndarray, max_side: int = VALIDATION_MAX_SIDE) -> torch.Tensor:
    """The centre of ``im`` (H, W, 3 uint8) as (1, 3, h, w) in [0, 1], sides multiples of 16 up to ``max_side``."""
    h = min((im.shape[0] // DOWNSAMPLING) * DOWNSAMPLING, max_side)
    w = min((im.shape[1] // DOWNSAMPLING) * DOWNSAMPLING, max_side)
    y0, x0 = (im.shape[0] - h) // 2, (im.shape[1] - w) // 2
    return torch.from_numpy(np.array(im[y0 : y0 + h, x0 : x0 + w])).permute(2, 0, 1)[None].float() / 255


@torch.no_grad()
def validate(model: CVQN, images: list[np.ndarray], device: torch.device) -> dict:
    """Mean MS-SSIM, PSNR, estimated bpp and the colour figures of ``cvq bench`` (mean signed error of R, G, B in
    8-bit levels; chroma spread of Cb, Cr) over held-out images (centre crops, multiples of 16)."""
    model.eval()
    rows = []
    for im in images:
        x = centre_crop(im).to(device)
        out = model(x)
        x_hat = out.x_hat.float().clamp(0, 1)
        spread = [float("nan") if s is None else s for s in chroma_spread(x, x_hat)]
        ssim = ms_ssim_8bit(x, x_hat) or float("nan")
        rows.append((ssim, psnr(x, x_hat), out.bpp.item(), *colour_error(x, x_hat), *spread))
    model.train()
    with warnings.catch_warnings():  # a column of NaN only (no MS-SSIM of small crops) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.array(rows), axis=0)  # NaN: no MS-SSIM of a small crop, no spread of a grey image
    return {
        "ms_ssim": float(mean[0]),
        "psnr": float(mean[1]),
        "bpp": float(mean[2]),
        "mean_error": [round(float(v), 3) for v in mean[3:6]],
        "chroma_spread": [round(float(v), 4) for v in mean[6:8]],
    }


@torch.no_grad()
def update_re_importance(model: CVQN, images: list[np.ndarray], device: torch.device, size: int = 256) -> None:
    """Reconstruction-error channel importance (Eq. 6): mean MS-SSIM loss when channel c is zeroed."""
    from ..analyze.channels import channel_influence  # lazy: the analyze package is not needed to train

    crops = [
        torch.from_numpy(np.ascontiguousarray(im[:size, :size])).permute(2, 0, 1)[None].float() / 255
        for im in images
        if min(im.shape[:2]) >= size
    ]
    if not crops:
        return
    model.eval()
    w = torch.stack([channel_influence(model, c.to(device))["ms_ssim_loss"] for c in crops]).mean(0)
    model.controller.re_importance.copy_(w.to(model.controller.re_importance.device))
    model.train()
