"""Image <-> .cvq bytes with a loaded model: the one pipeline used by the CLI, bench and analysis.

encode: pad to a multiple of 16 -> encoder -> controller (importance, sort, split, GMM symbols) ->
context models + torchac, tile by tile, one stream per segment -> container.
decode: container -> per-group wavefront decoding with the same probability routine -> merge ->
decoder -> crop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import container
from .entropy import decode_group, encode_group
from .errors import BitstreamError, MismatchError
from .model import QuantizedLatent, pad_to_multiple
from .refine import RefineResult, RefineSettings
from .refine import refine as refine_latent
from .tiling import DEFAULT_TILING, Tiling
from .weights import LoadedModel


@dataclass
class EncodeResult:
    data: bytes
    latent: QuantizedLatent
    #: Decoded image as the decoder will produce it (1, 3, H, W), when requested.
    reconstruction: torch.Tensor | None
    #: What the refinement did (``encode(..., refine=...)`` with steps > 0), else None.
    refinement: RefineResult | None = None


def group_layout(loaded: LoadedModel) -> list[tuple[int, int]]:
    """(levels q_g, channels C_g) of every group, as the header stores them."""
    return list(zip(loaded.model.preset.levels, loaded.model.controller.group_channels))


def encode(
    loaded: LoadedModel,
    image: torch.Tensor,
    color_channels: int = 3,
    device: str = "cpu",
    reconstruct: bool = False,
    tiling: Tiling = DEFAULT_TILING,
    refine: RefineSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EncodeResult:
    """Encode (1, 3, H, W) in [0, 1] into .cvq bytes. ``refine`` with steps > 0 optimizes the latent for
    this image first (:mod:`cvqncodec.refine`; same format, any decoder); ``progress(done, total)``."""
    model = loaded.model
    _, _, height, width = image.shape
    x = pad_to_multiple(image.to(device))
    refinement = None
    if refine is not None and refine.steps > 0:
        refinement = refine_latent(loaded, x, refine, (height, width), tiling, progress)
        latent = refinement.latent
    else:
        latent = model.quantize(x, tiling)
    del x  # large images: free the padded copy before coding
    data = pack_latent(loaded, latent, height, width, color_channels)
    recon = None
    if reconstruct:
        recon = model.reconstruct(latent, device, tiling)[:, :, :height, :width].cpu()
    return EncodeResult(data, latent, recon, refinement)


def pack_latent(
    loaded: LoadedModel, latent: QuantizedLatent, height: int, width: int, color_channels: int = 3
) -> bytes:
    """Entropy-code a latent of an image of ``height`` x ``width`` pixels into .cvq bytes."""
    model = loaded.model
    streams = [encode_group(ev, s, container.LATENT_TILE)[0] for ev, s in zip(loaded.evaluators, latent.groups)]
    latent_height, latent_width = latent.groups[0].shape[-2:]
    header = container.Header(
        model_name=loaded.name,
        weights_id=loaded.weights_id,
        height=height,
        width=width,
        color_channels=color_channels,
        latent_channels=model.preset.latent_channels,
        latent_height=latent_height,
        latent_width=latent_width,
        groups=group_layout(loaded),
        permutation=latent.permutation.tolist() if model.controller.image_dependent_order else None,
        tile=container.LATENT_TILE,
    )
    return container.pack(header, streams)


def check_compatible(loaded: LoadedModel, header: container.Header) -> None:
    """Refuse a file made with other weights or a model of another shape."""
    if header.weights_id not in loaded.decodes:
        raise MismatchError(
            f"the file was made with model {header.model_name!r} "
            f"(weights {header.weights_id.hex()}), not with {loaded.name!r} "
            f"(weights {loaded.weights_id.hex()})"
        )
    if header.latent_channels != loaded.model.preset.latent_channels or [
        tuple(g) for g in header.groups
    ] != group_layout(loaded):
        raise MismatchError("the file's latent layout does not match the model")


def decode(
    loaded: LoadedModel,
    header: container.Header,
    streams: list[list[bytes]],
    device: str = "cpu",
    tiling: Tiling = DEFAULT_TILING,
) -> tuple[torch.Tensor, QuantizedLatent]:
    """Decode parsed .cvq contents into (image (1, 3, H, W) in [0, 1], latent)."""
    check_compatible(loaded, header)
    model = loaded.model
    if header.permutation is not None and not model.controller.image_dependent_order:
        raise BitstreamError("corrupted .cvq header (a channel permutation for a model with a fixed channel order)")
    if header.permutation is not None:
        perm = torch.tensor(header.permutation, dtype=torch.int64)
    elif model.controller.image_dependent_order:
        raise BitstreamError("corrupted .cvq header (channel permutation missing)")
    else:
        perm = model.controller.fixed_order()
    groups = []
    for ev, (_levels, channels), stream in zip(loaded.evaluators, header.groups, streams):
        groups.append(decode_group(ev, (channels, header.latent_height, header.latent_width), stream, header.tile))
    latent = QuantizedLatent(groups, perm)
    image = model.reconstruct(latent, device, tiling)[:, :, : header.height, : header.width].cpu()
    return image, latent
