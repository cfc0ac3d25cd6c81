"""Model presets: the architecture and quantization settings of a CVQN model, as data.

A :class:`Preset` is saved inside every weights file, so loading a model needs no code change.
Section numbers refer to Zhong, Akutsu & Aizawa, "Channel-Level Variable Quantization Network for
Deep Image Compression" (IJCAI 2020).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

IMPORTANCE_TYPES = ("predefined", "se", "re")
#: Spatial down-sampling factor of the encoder: four stages of 2x (Sec. 3.1).
DOWNSAMPLING = 16


@dataclass(frozen=True)
class Preset:
    """Everything that defines a CVQN network's shape (Sec. 3, Sec. 4.1)."""

    name: str
    #: Encoder stage widths C_0..C_3 (Sec. 3.1); the decoder uses them reversed.
    widths: tuple[int, ...] = (32, 64, 128, 192)
    #: Residual channel-attention blocks per residual group (B).
    blocks: int = 6
    #: Latent channels C of Z (Sec. 3.1); varied 16..80 for different rates.
    latent_channels: int = 32
    #: Quantization levels q_g per group (Sec. 3.3).
    levels: tuple[int, ...] = (3, 5, 7)
    #: Ratios r_g of channels per group, summing to 1 (Sec. 3.3).
    ratios: tuple[float, ...] = (0.25, 0.5, 0.25)
    #: Channel importance module: "predefined" (w_c = c), "se" or "re" (Sec. 3.3).
    importance: str = "predefined"
    #: Run residual groups at 4x width right after the (inverse) pixel shuffle, as the authors' code does.
    wide_groups: bool = False
    #: Use GDN / inverse GDN after each stage, as the authors' code does.
    gdn: bool = False
    #: Channel-attention reduction factor in each RCAB.
    reduction: int = 8
    #: Filters of the 3D context model (Mentzer et al. 2018) and its residual blocks.
    context_filters: int = 24
    context_blocks: int = 1

    def __post_init__(self) -> None:
        if len(self.levels) != len(self.ratios) or not self.levels:
            raise ValueError("levels and ratios must have the same, non-zero length")
        if abs(sum(self.ratios) - 1.0) > 1e-6 or min(self.ratios) <= 0:
            raise ValueError("ratios must be positive and sum to 1")
        if min(self.levels) < 2 or max(self.levels) > 64:
            raise ValueError("levels must lie in 2..64")
        if self.importance not in IMPORTANCE_TYPES:
            raise ValueError(f"importance must be one of {IMPORTANCE_TYPES}")
        if len(self.widths) != 4:
            raise ValueError("widths must give the four stage widths")
        if self.context_filters < 1 or self.context_blocks < 0:
            raise ValueError("the context model needs at least one filter and a non-negative number of blocks")
        if self.latent_channels < len(self.levels):
            raise ValueError("need at least one latent channel per group")

    @property
    def group_channels(self) -> tuple[int, ...]:
        """Channels C_g = C r_g per group (rounded so that they sum to C, each at least 1: where rounding
        leaves the last group empty, the largest other group gives up channels)."""
        c = self.latent_channels
        sizes = [max(1, round(c * r)) for r in self.ratios[:-1]]
        while c - sum(sizes) < 1:
            largest = max(range(len(sizes)), key=lambda i: sizes[i])
            sizes[largest] -= 1
        sizes.append(c - sum(sizes))
        return tuple(sizes)

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preset:
        d = json.loads(text)
        for key in ("widths", "levels", "ratios"):
            d[key] = tuple(d[key])
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        return cls(**{k: v for k, v in d.items() if k in known})

    def replace(self, **changes) -> Preset:
        return dataclasses.replace(self, **changes)


#: Named presets. "paper" follows Sec. 4.1 and the authors' code; the others are for CPUs.
PRESETS: dict[str, Preset] = {
    "paper": Preset(
        "paper",
        widths=(32, 64, 128, 192),
        blocks=6,
        wide_groups=True,
        gdn=True,
        reduction=16,
        context_filters=24,
        context_blocks=1,
    ),
    "medium": Preset("medium", widths=(32, 64, 128, 192), blocks=2, reduction=8, context_filters=24, context_blocks=1),
    "compact": Preset("compact", widths=(16, 32, 64, 96), blocks=1, reduction=8, context_filters=16, context_blocks=1),
    "small": Preset("small", widths=(24, 48, 96, 144), blocks=2, reduction=8, context_filters=24, context_blocks=1),
    "tiny": Preset(
        "tiny", widths=(4, 8, 8, 12), blocks=1, latent_channels=8, reduction=4, context_filters=4, context_blocks=1
    ),
}


def get_preset(name: str, **overrides) -> Preset:
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
    return base.replace(**overrides) if overrides else base
