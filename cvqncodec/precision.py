"""Precision and memory layout of the float transforms (the encoder and decoder of Sec. 3.1).

Where the hardware has bf16 kernels (CPUs with AVX-512 BF16 or AMX, recent GPUs) the transforms run under bf16
autocast; on other CPUs PyTorch falls back to reference kernels that are several times slower than float32, so
they stay in float32. The transforms always use channels_last tensors. Neither choice touches the latent's
exactness: the encoder decides the symbols and the integer context model lets every decoder recover them bit
for bit; only the decoded pixels may differ by rounding between machines. ``CVQ_PRECISION=float32`` in the
environment keeps the coding transforms in float32 everywhere.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from functools import cache

import torch

#: Environment variable: "float32" keeps the coding transforms in float32; anything else is automatic.
PRECISION_ENV = "CVQ_PRECISION"


@cache
def _cpu_bf16_kernels() -> bool:
    return bool(getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)())


def bf16_is_fast(device: torch.device | str) -> bool:
    """Hardware bf16 kernels on ``device``: AVX-512 BF16/AMX CPUs, GPUs that support bf16."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_bf16_kernels()


def coding_in_bf16(device: torch.device | str) -> bool:
    """Whether :func:`transform_precision` runs the coding transforms on ``device`` in bf16."""
    return os.environ.get(PRECISION_ENV, "").strip().lower() != "float32" and bf16_is_fast(device)


@contextlib.contextmanager
def transform_precision(device: torch.device | str) -> Iterator[None]:
    """bf16 autocast around the coding transforms where :func:`coding_in_bf16`; otherwise nothing."""
    device = torch.device(device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=coding_in_bf16(device)):
        yield


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) in the channels_last layout the transforms use."""
    return x.contiguous(memory_format=torch.channels_last)


def use_channels_last(model: torch.nn.Module) -> None:
    """channels_last on the 2D parts (encoder, decoder): faster convolutions (1.2x in float32, measured)."""
    model.encoder.to(memory_format=torch.channels_last)
    model.decoder.to(memory_format=torch.channels_last)


def use_contiguous_format(model: torch.nn.Module) -> None:
    """Back to the default layout (the tensors a trainer exports)."""
    model.encoder.to(memory_format=torch.contiguous_format)
    model.decoder.to(memory_format=torch.contiguous_format)
