"""Model presets: the architecture and quantization settings of a CVQN model, as data.

A :class:`Preset` is saved inside every weights file, so loading a model needs no code change.
Section numbers refer to Zhong, Akutsu & Aizawa, "Channel-Level Variable Quantization Network for
Deep Image Compression" (IJCAI 2020).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

IMPORTANCE_TYPES = ("predefined", "se", "re")
#: Spatial down-sampling factor of the encoder: four stages of 2x (Sec. 3.1).
DOWNSAMPLING = 16
#: Ranges a preset must lie in (they bound the network a weights file can ask for before its tensors are read).
MAX_WIDTH = 1024
MAX_BLOCKS = 16
MAX_LATENT_CHANNELS = 1024
MAX_GROUPS = 16
MAX_LEVELS = 64
MAX_REDUCTION = 1024
MAX_CONTEXT_FILTERS = 1024
MAX_NAME = 64
#: JSON type of every field: int, float, bool, str, or a tuple of one of them.
FIELD_TYPES = {
    "name": str,
    "widths": (int,),
    "blocks": int,
    "latent_channels": int,
    "levels": (int,),
    "ratios": (float,),
    "importance": str,
    "wide_groups": bool,
    "gdn": bool,
    "reduction": int,
    "context_filters": int,
    "context_blocks": int,
}


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
        problem = _range_problem(self)
        if problem is not None:
            raise ValueError(problem)

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
        """A preset from its JSON (unknown keys are ignored, missing ones take their defaults); ValueError for
        anything but a JSON object of well-typed fields within range (the text may come from any file)."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(d, dict):
            raise ValueError("not a JSON object")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.init and f.name in d:
                kwargs[f.name] = _typed(f.name, d[f.name], FIELD_TYPES[f.name])
        if "name" not in kwargs:
            raise ValueError("no preset name")
        return cls(**kwargs)

    def replace(self, **changes) -> Preset:
        return dataclasses.replace(self, **changes)


def _is(value: object, kind: type) -> bool:
    """JSON-typed check: bool is not an int, an int is a float; floats must be finite."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


def _typed(name: str, value: object, kind: type | tuple) -> object:
    """``value`` checked against a FIELD_TYPES entry (lists become tuples); ValueError otherwise."""
    if isinstance(kind, tuple):
        if not isinstance(value, list) or len(value) > 255 or not all(_is(v, kind[0]) for v in value):
            raise ValueError(f"{name} must be a list of {kind[0].__name__}")
        return tuple(value)
    if not _is(value, kind):
        raise ValueError(f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _range_problem(p: Preset) -> str | None:
    """What is out of range in a preset, or None."""
    if not isinstance(p.name, str) or not 1 <= len(p.name) <= MAX_NAME:
        return f"name must be 1 .. {MAX_NAME} characters"
    if not isinstance(p.widths, tuple) or len(p.widths) != 4:
        return "widths must give the four stage widths"
    if not all(_in(w, 1, MAX_WIDTH) for w in p.widths):
        return f"stage widths must lie in 1..{MAX_WIDTH}"
    if not _in(p.blocks, 0, MAX_BLOCKS):
        return f"blocks must lie in 0..{MAX_BLOCKS}"
    if not isinstance(p.levels, tuple) or not isinstance(p.ratios, tuple):
        return "levels and ratios must be tuples"
    if len(p.levels) != len(p.ratios) or not 1 <= len(p.levels) <= MAX_GROUPS:
        return f"levels and ratios must have the same length, 1..{MAX_GROUPS}"
    if not all(_is(r, float) and r > 0 for r in p.ratios) or abs(sum(p.ratios) - 1.0) > 1e-6:
        return "ratios must be positive and sum to 1"
    if not all(_in(q, 2, MAX_LEVELS) for q in p.levels):
        return f"levels must lie in 2..{MAX_LEVELS}"
    if not _in(p.latent_channels, len(p.levels), MAX_LATENT_CHANNELS):
        return f"need at least one latent channel per group, and at most {MAX_LATENT_CHANNELS}"
    if p.importance not in IMPORTANCE_TYPES:
        return f"importance must be one of {IMPORTANCE_TYPES}"
    if not isinstance(p.wide_groups, bool) or not isinstance(p.gdn, bool):
        return "wide_groups and gdn must be true or false"
    if not _in(p.reduction, 1, MAX_REDUCTION):
        return f"reduction must lie in 1..{MAX_REDUCTION}"
    if not _in(p.context_filters, 1, MAX_CONTEXT_FILTERS) or not _in(p.context_blocks, 0, MAX_BLOCKS):
        return f"the context model needs 1..{MAX_CONTEXT_FILTERS} filters and 0..{MAX_BLOCKS} residual blocks"
    return None


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
