"""The original image as the figures show it (Fig. 1 top left): a uint8 thumbnail of the analyzed image."""

from __future__ import annotations

import numpy as np
import torch

from ..imageio import to_uint8

#: Longest side of the thumbnail kept for the figures, px.
THUMBNAIL_SIDE = 512


def thumbnail(image: torch.Tensor, color_channels: int = 3, side: int = THUMBNAIL_SIDE) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> uint8 (h, w, 3), or (h, w) for greyscale, reduced (Lanczos) to at most
    ``side`` px on the longer side."""
    from PIL import Image

    im = Image.fromarray(to_uint8(image, color_channels))
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(im)
