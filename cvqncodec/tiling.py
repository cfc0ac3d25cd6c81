"""Tiled analysis and synthesis transforms, so that memory stays bounded on large images.

The latent is cut into tiles of ``tile`` x ``tile`` latent pixels (16 image pixels each). Each tile is
computed from a crop that extends ``halo`` latent pixels beyond it on every side (where the image
has them) and keeps only its own part; crops of the same size are evaluated as one batch. The
convolutions' receptive field is about 9 latent pixels, so with the default halo the seams match the
untiled result up to the channel attention's per-tile average pooling; images of at most one tile take
the exact untiled path.

This tiling touches only the float transforms; the decoder recovers the latent bit for bit whatever
transform tiles either side used. (The entropy coder has latent tiles of its own, in the format:
:func:`cvqncodec.container.tile_boxes`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from .precision import channels_last, transform_precision
from .presets import DOWNSAMPLING


@dataclass(frozen=True)
class Tiling:
    #: Tile side in latent pixels (64 = 1024 image pixels).
    tile: int = 64
    #: Context on each side of a tile, in latent pixels, for the decoder network (seams in the pixels).
    halo: int = 8
    #: The same for the encoder network: its seams only nudge a few latent values, and on 2048x1536 mosaics of
    #: training photos halo 4 and 2 coded as well as 8 (bench/RESULTS.md) for (1152/1280)^2 = 0.81x its work.
    analysis_halo: int = 4

    def __post_init__(self) -> None:
        if self.tile < 1 or self.halo < 0 or self.analysis_halo < 0:
            raise ValueError("tile must be >= 1 and halos >= 0")


DEFAULT_TILING = Tiling()


def spans(n: int, tile: int) -> list[tuple[int, int]]:
    """[start, end) ranges of length ``tile`` (the last may be shorter) covering 0..n."""
    return [(a, min(a + tile, n)) for a in range(0, n, tile)]


def tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale_in: int,
    scale_out: int,
    out_channels: int,
    tiling: Tiling,
) -> torch.Tensor:
    """Apply ``fn`` tile by tile. Spatial sizes: input n * scale_in, output n * scale_out for a latent
    size n; tiles and halos are whole latent pixels. Crops of the same size go through ``fn`` together,
    stacked along the batch dimension, up to one full tile's pixels per call (thin images: many small
    crops)."""
    h, w = x.shape[-2] // scale_in, x.shape[-1] // scale_in
    if h <= tiling.tile and w <= tiling.tile:
        return fn(x)
    out = torch.empty(x.shape[0], out_channels, h * scale_out, w * scale_out, dtype=x.dtype, device=x.device)
    by_size: dict[tuple[int, int], list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]] = {}
    for i0, i1 in spans(h, tiling.tile):
        a0, a1 = max(0, i0 - tiling.halo), min(h, i1 + tiling.halo)
        for j0, j1 in spans(w, tiling.tile):
            b0, b1 = max(0, j0 - tiling.halo), min(w, j1 + tiling.halo)
            by_size.setdefault((a1 - a0, b1 - b0), []).append(((a0, a1, b0, b1), (i0, i1, j0, j1)))
    full = (tiling.tile + 2 * tiling.halo) ** 2
    for (ch, cw), tiles in by_size.items():
        per_call = max(1, full // (ch * cw))
        for k in range(0, len(tiles), per_call):
            batch = tiles[k : k + per_call]
            crops = [
                x[..., a0 * scale_in : a1 * scale_in, b0 * scale_in : b1 * scale_in] for (a0, a1, b0, b1), _ in batch
            ]
            y = fn(torch.cat(crops)).split(x.shape[0])
            for part, ((a0, _, b0, _), (i0, i1, j0, j1)) in zip(y, batch):
                out[..., i0 * scale_out : i1 * scale_out, j0 * scale_out : j1 * scale_out] = part[
                    ..., (i0 - a0) * scale_out : (i1 - a0) * scale_out, (j0 - b0) * scale_out : (j1 - b0) * scale_out
                ]
    return out


def encoder_transform(encoder: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The encoder on one piece, in the coding precision of :mod:`cvqncodec.precision`, as float32."""
    with transform_precision(x.device):
        return encoder(channels_last(x)).float()


def decoder_transform(decoder: torch.nn.Module, z_hat: torch.Tensor) -> torch.Tensor:
    """The decoder on one piece, in the coding precision of :mod:`cvqncodec.precision`, as float32."""
    with transform_precision(z_hat.device):
        return decoder(channels_last(z_hat)).float().contiguous()


def analyse(encoder: torch.nn.Module, x: torch.Tensor, latent_channels: int, tiling: Tiling) -> torch.Tensor:
    """Encoder transform of (N, 3, 16h, 16w) -> (N, C, h, w), tile by tile."""
    halo = replace(tiling, halo=tiling.analysis_halo)
    return tiled(lambda t: encoder_transform(encoder, t), x, DOWNSAMPLING, 1, latent_channels, halo)


def synthesise(decoder: torch.nn.Module, z_hat: torch.Tensor, tiling: Tiling) -> torch.Tensor:
    """Decoder transform of (N, C, h, w) -> (N, 3, 16h, 16w), tile by tile."""
    return tiled(lambda t: decoder_transform(decoder, t), z_hat, 1, DOWNSAMPLING, 3, tiling)
