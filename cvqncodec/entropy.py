"""Entropy coding of the quantized groups with torchac, driven by the context model.

CDFs are 16-bit integers computed exactly from the context models' integer tables
(:mod:`cvqncodec.fixed_point`): every level keeps a mass of at least 1/65536 and tensors are contiguous
(torchac silently mis-codes non-contiguous int16 CDFs and out-of-range symbols, so both are checked).
"""

from __future__ import annotations

import torch

from .container import LATENT_TILE, segment_ranges, segment_symbols, tile_runs
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


def encode_group(
    evaluator: ExactContextEvaluator, symbols: torch.Tensor, tile: int | None = LATENT_TILE
) -> tuple[list[bytes], torch.Tensor]:
    """Arithmetic-code one group's symbols (shape (C_g, H, W)) in runs of tiles; returns (one stream per segment
    of every run, CDFs in coding order)."""
    symbols = symbols.to(torch.int64).cpu()
    if symbols.numel() and (symbols.min() < 0 or symbols.max() >= evaluator.levels):
        raise ValueError("symbol out of range")
    order, cdf = evaluator.cdfs_in_order(symbols, tile)  # the decoder's wavefront pass computes the same integers
    sym16 = symbols.reshape(-1)[order].to(torch.int16)
    tac = torchac_module()
    streams, offset = [], 0
    for ranges in run_segments(tuple(symbols.shape), tile):
        for a, b in ranges:
            a, b = offset + a, offset + b
            streams.append(tac.encode_int16_normalized_cdf(cdf[a:b].contiguous(), sym16[a:b].contiguous()))
        offset += ranges[-1][1]
    return streams, cdf


def run_segments(shape: tuple[int, int, int], tile: int | None) -> list[list[tuple[int, int]]]:
    """Per run of tiles: the (start, end) of its segments in the run's coding order (one stream each)."""
    return [segment_ranges(shape[0], run, segment_symbols(tile)) for run in tile_runs(*shape, tile)]


def decode_group(
    evaluator: ExactContextEvaluator,
    shape: tuple[int, int, int],
    streams: list[bytes],
    tile: int | None = LATENT_TILE,
) -> torch.Tensor:
    """Inverse of :func:`encode_group`: at each wavefront, decodes a growing prefix of the run's segment."""
    tac = torchac_module()
    runs, first_stream = [], 0  # per run: its segments and the index of its first stream
    for ranges in run_segments(shape, tile):
        runs.append((ranges, first_stream))
        first_stream += len(ranges)
    if first_stream != len(streams):
        raise BitstreamError(f"corrupted .cvq file (expected {first_stream} streams in a group, found {len(streams)})")
    current = [0] * len(runs)  # the segment each run is in

    def provide(k: int, start: int, end: int, cdf_run: torch.Tensor) -> torch.Tensor:
        ranges, stream = runs[k]
        while ranges[current[k]][1] < end:
            current[k] += 1
        seg_start = ranges[current[k]][0]
        decoded = tac.decode_int16_normalized_cdf(cdf_run[seg_start:end], streams[stream + current[k]])
        return decoded[start - seg_start :].to(torch.int64)

    symbols, _ = evaluator.run(shape, provide, tile)
    return symbols
