"""Distortion and rate measures: PSNR, MS-SSIM (Wang et al. 2003, via pytorch-msssim), bpp."""

from __future__ import annotations

import math

import torch
from pytorch_msssim import ms_ssim as _ms_ssim

#: pytorch-msssim's 5-scale MS-SSIM with its default 11-px window needs both sides > 160 px.
MS_SSIM_MIN_SIDE = 161


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


def bpp(num_bytes: int, height: int, width: int) -> float:
    """Bits per pixel of a whole file: bytes x 8 / (H x W), header included."""
    return num_bytes * 8.0 / (height * width)
