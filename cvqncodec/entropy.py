"""Entropy coding of the quantized groups with torchac, driven by the context model.

CDFs are 16-bit integers computed exactly from the context models' integer tables
(:mod:`cvqncodec.fixed_point`): every level keeps a mass of at least 1/65536 and tensors are contiguous
(torchac silently mis-codes non-contiguous int16 CDFs and out-of-range symbols, so both are checked).
"""

from __future__ import annotations

import torch

from .context import ExactContextEvaluator
from .errors import BitstreamError
from .fixed_point import CDF_PRECISION as PRECISION
from .torchac_loader import torchac_module


def cdf_bits(cdf: torch.Tensor, symbols: torch.Tensor) -> float:
    """Ideal code length in bits of ``symbols`` under the int16 ``cdf`` rows (coding order)."""
    c = cdf.to(torch.int64) & 0xFFFF
    c[:, -1] = 1 << PRECISION
    s = symbols.reshape(-1, 1)
    mass = (c.gather(1, s + 1) - c.gather(1, s)).double()
    return float(-(mass / (1 << PRECISION)).log2().sum())


#: A group's symbols are split, at wavefront boundaries, into segments of at least this many symbols, each
#: its own torchac stream: the decoder re-decodes a growing prefix of the current segment at every
#: wavefront, so segments bound that cost on large images.
SEGMENT_SYMBOLS = 1 << 16


def segments(wavefront_sizes: torch.Tensor, target: int | None = None) -> list[tuple[int, int]]:
    """(start, end) symbol ranges in coding order; every range holds whole wavefronts."""
    target = SEGMENT_SYMBOLS if target is None else target
    bounds, start, end = [], 0, 0
    for n in wavefront_sizes.tolist():
        end += n
        if end - start >= target:
            bounds.append((start, end))
            start = end
    if end > start or not bounds:
        bounds.append((start, end))
    return bounds


def encode_group(evaluator: ExactContextEvaluator, symbols: torch.Tensor) -> tuple[list[bytes], torch.Tensor]:
    """Arithmetic-code one group's symbols (shape (C_g, H, W)); returns (one stream per segment,
    CDFs in coding order)."""
    symbols = symbols.to(torch.int64).cpu()
    if symbols.numel() and (symbols.min() < 0 or symbols.max() >= evaluator.levels):
        raise ValueError("symbol out of range")
    order, sizes = evaluator.coding_order(tuple(symbols.shape))
    in_order = symbols.reshape(-1)[order]
    cdf = evaluator.all_cdfs(symbols)  # the decoder's wavefront pass computes the same integers
    tac = torchac_module()
    sym16 = in_order.to(torch.int16)
    streams = [
        tac.encode_int16_normalized_cdf(cdf[a:b].contiguous(), sym16[a:b].contiguous()) for a, b in segments(sizes)
    ]
    return streams, cdf


def decode_group(evaluator: ExactContextEvaluator, shape: tuple[int, int, int], streams: list[bytes]) -> torch.Tensor:
    """Inverse of :func:`encode_group`: at each wavefront, decodes a growing prefix of its segment."""
    tac = torchac_module()
    _, sizes = evaluator.coding_order(shape)
    bounds = segments(sizes)
    if len(bounds) != len(streams):
        raise BitstreamError(f"corrupted .cvq file (expected {len(bounds)} streams in a group, found {len(streams)})")
    current = [0]

    def provide(start: int, end: int, cdf_prefix: torch.Tensor) -> torch.Tensor:
        while bounds[current[0]][1] < end:
            current[0] += 1
        seg_start = bounds[current[0]][0]
        decoded = tac.decode_int16_normalized_cdf(cdf_prefix[seg_start:end], streams[current[0]])
        return decoded[start - seg_start :].to(torch.int64)

    symbols, _ = evaluator.run(shape, provide)
    return symbols
