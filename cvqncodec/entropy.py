"""Entropy coding of the quantized groups with torchac, driven by the context model.

CDFs are 16-bit integers computed exactly from the context models' integer tables
(:mod:`cvqncodec.fixed_point`): every level keeps a mass of at least 1/65536 and tensors are contiguous
(torchac silently mis-codes non-contiguous int16 CDFs and out-of-range symbols, so both are checked).
"""

from __future__ import annotations

import torch

from .container import LATENT_TILE, segment_ranges, segment_symbols, tile_boxes
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
    """Arithmetic-code one group's symbols (shape (C_g, H, W)) tile by tile; returns (one stream per segment of
    every tile, CDFs in coding order)."""
    symbols = symbols.to(torch.int64).cpu()
    if symbols.numel() and (symbols.min() < 0 or symbols.max() >= evaluator.levels):
        raise ValueError("symbol out of range")
    order, _ = evaluator.coding_order(tuple(symbols.shape), tile)
    sym16 = symbols.reshape(-1)[order].to(torch.int16)
    cdf = evaluator.all_cdfs(symbols, tile)  # the decoder's wavefront pass computes the same integers
    tac = torchac_module()
    return [
        tac.encode_int16_normalized_cdf(cdf[a:b].contiguous(), sym16[a:b].contiguous())
        for a, b in _stream_ranges(symbols.shape, tile)
    ], cdf


def _stream_ranges(shape: tuple[int, int, int], tile: int | None) -> list[tuple[int, int]]:
    """(start, end) of every stream in the group's coding order: each tile's segments, tile after tile."""
    out, offset = [], 0
    for h0, h1, w0, w1 in tile_boxes(shape[1], shape[2], tile):
        ranges = segment_ranges(shape[0], h1 - h0, w1 - w0, segment_symbols(tile))
        out += [(offset + a, offset + b) for a, b in ranges]
        offset += ranges[-1][1]
    return out


def decode_group(
    evaluator: ExactContextEvaluator,
    shape: tuple[int, int, int],
    streams: list[bytes],
    tile: int | None = LATENT_TILE,
) -> torch.Tensor:
    """Inverse of :func:`encode_group`: at each wavefront, decodes a growing prefix of each tile's segment."""
    tac = torchac_module()
    boxes = tile_boxes(shape[1], shape[2], tile)
    tiles, first_stream = [], 0  # per tile: its segments and the index of its first stream
    for h0, h1, w0, w1 in boxes:
        tiles.append((segment_ranges(shape[0], h1 - h0, w1 - w0, segment_symbols(tile)), first_stream))
        first_stream += len(tiles[-1][0])
    if first_stream != len(streams):
        raise BitstreamError(f"corrupted .cvq file (expected {first_stream} streams in a group, found {len(streams)})")
    current = [0] * len(boxes)  # the segment each tile is in

    def provide(k: int, start: int, end: int, cdf_tile: torch.Tensor) -> torch.Tensor:
        ranges, stream = tiles[k]
        while ranges[current[k]][1] < end:
            current[k] += 1
        seg_start = ranges[current[k]][0]
        decoded = tac.decode_int16_normalized_cdf(cdf_tile[seg_start:end], streams[stream + current[k]])
        return decoded[start - seg_start :].to(torch.int64)

    symbols, _ = evaluator.run(shape, provide, tile)
    return symbols
