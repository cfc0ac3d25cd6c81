"""Distortion and rate measures: PSNR, MS-SSIM (Wang et al. 2003, via pytorch-msssim), colour fidelity, bpp."""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim as _ms_ssim

#: pytorch-msssim's 5-scale MS-SSIM with its default 11-px window needs both sides > 160 px.
MS_SSIM_MIN_SIDE = 161


#: 5-scale MS-SSIM halves the image four times: its coarsest scale is 1/16 of the input.
MS_SSIM_DOWNSCALE = 16


def ms_ssim_window(side: int) -> int | None:
    """Largest odd Gaussian window (<= 11) for which 5-scale MS-SSIM fits ``side`` px ((win - 1) 16 < side),
    or None below 3 (training crops and refinement windows smaller than Kodak's use narrower windows)."""
    win = min(11, (side - 1) // MS_SSIM_DOWNSCALE + 1)
    win -= 1 - win % 2
    return win if win >= 3 else None


def to_8bit(x: torch.Tensor) -> torch.Tensor:
    """Round [0, 1] images to the 8-bit values a file holds, as float in [0, 255]."""
    return torch.round(x.clamp(0, 1) * 255.0)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB between two images in [0, 1], measured on their 8-bit values (RGB, all channels)."""
    mse = torch.mean((to_8bit(a).double() - to_8bit(b).double()) ** 2).item()
    return float("inf") if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> float | None:
    """MS-SSIM on 8-bit values (data range 255); None for images too small for 5 scales."""
    if min(a.shape[-2:]) < MS_SSIM_MIN_SIDE:
        return None
    return float(_ms_ssim(to_8bit(a).float(), to_8bit(b).float(), data_range=255.0, size_average=True))


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in decibels: -10 log10(1 - MS-SSIM)."""
    return float("inf") if value >= 1.0 else -10.0 * math.log10(1.0 - value)


#: BT.601 chroma rows (Cb, Cr) of the RGB -> YCbCr matrix.
BT601_CHROMA = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def colour_error(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float]:
    """Mean signed error of R, G and B in 8-bit levels, ``b`` (decoded) minus ``a`` (original): a colour
    cast shows here where PSNR and MS-SSIM hardly move."""
    diff = to_8bit(b).double() - to_8bit(a).double()
    r, g, bl = diff.mean(dim=(0, 2, 3)).tolist()
    return r, g, bl


def rgb_to_chroma(x: torch.Tensor) -> torch.Tensor:
    """Cb and Cr (BT.601, without offset) of RGB images (N, 3, H, W) as (2, N, H, W), in ``x``'s units and
    dtype; differentiable (the training loss's chroma term uses it)."""
    return torch.einsum("kc,nchw->knhw", torch.tensor(BT601_CHROMA, dtype=x.dtype, device=x.device), x)


def chroma_spread(a: torch.Tensor, b: torch.Tensor) -> tuple[float | None, float | None]:
    """Standard deviation of Cb and of Cr (BT.601) of ``b`` (decoded) over that of ``a`` (original): below 1,
    colours are washed out. None for a channel without spread in the original (grey images)."""
    sa, sb = (rgb_to_chroma(to_8bit(x).double()).flatten(1).std(dim=1).tolist() for x in (a, b))
    cb, cr = (db / da if da > 1e-6 else None for da, db in zip(sa, sb))
    return cb, cr


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a whole file: bytes x 8 / (H x W), header included."""
    return num_bytes * 8.0 / (height * width)
