"""Rate control (``cvq encode --bpp X`` / ``--size BYTES``): reach a file size by choosing the model and the
rate weight lambda of the latent refinement (:mod:`cvqncodec.refine`).

The shipped models are five fixed operating points; lambda (the weight of the rate term against Eq. 8's
distortion) moves one model's operating point continuously, but only by a few per cent (bench/RESULTS.md,
session 15), so targets between two models' rates get the nearest file. First every candidate model codes the image
plainly (one encoder pass each); the model whose file is nearest the target (in log size) is kept, and lambda
is bisected in log space with refined encodes until a file lands within ``tolerance`` of the target (after
lambda = 1 the end of the range is tried first, so a target out of lambda's reach costs two refined encodes).
The nearest file found is returned either way, with ``reached`` telling whether it is within the tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import torch

from . import codec
from .refine import RefineSettings
from .weights import LoadedModel

#: Files within this fraction of the target count as reached.
TOLERANCE = 0.03
#: lambda is searched in [2^-LOG2_RANGE, 2^LOG2_RANGE].
LOG2_RANGE = 4.0
#: Refined encodes tried per image at most.
MAX_PROBES = 7
#: A refinement shorter than this barely moves the rate, whatever lambda.
MIN_STEPS = 10


@dataclass
class Probe:
    model: str
    rate_weight: float | None  # None: a plain encode
    num_bytes: int


@dataclass
class RateControlResult:
    encoded: codec.EncodeResult
    model: LoadedModel
    rate_weight: float | None
    reached: bool
    probes: list[Probe] = field(default_factory=list)

    @property
    def span(self) -> tuple[int, int]:
        """Smallest and largest file any probe made: targets outside it are out of reach."""
        sizes = [p.num_bytes for p in self.probes]
        return min(sizes), max(sizes)


def _miss(num_bytes: int, target: int) -> float:
    return abs(math.log(num_bytes / target))


def encode_to_size(
    candidates: Sequence[LoadedModel],
    image: torch.Tensor,
    target_bytes: int,
    settings: RefineSettings,
    color_channels: int = 3,
    device: str = "cpu",
    tolerance: float = TOLERANCE,
    progress: Callable[[int, int], None] | None = None,
) -> RateControlResult:
    """The file nearest ``target_bytes`` over ``candidates`` (models ordered by rate) and lambda; refined
    encodes use ``settings`` (at least MIN_STEPS steps) with lambda bisected."""
    if target_bytes < 1 or not candidates:
        raise ValueError("need a positive target and at least one model")
    probes: list[Probe] = []
    best: RateControlResult | None = None

    def consider(loaded: LoadedModel, weight: float | None, encoded: codec.EncodeResult) -> None:
        nonlocal best
        probes.append(Probe(loaded.name, weight, len(encoded.data)))
        if best is None or _miss(len(encoded.data), target_bytes) < _miss(len(best.encoded.data), target_bytes):
            best = RateControlResult(encoded, loaded, weight, False, probes)

    for loaded in candidates:
        consider(loaded, None, codec.encode(loaded, image, color_channels, device))
    model = best.model
    if settings.steps == 0 and _miss(len(best.encoded.data), target_bytes) <= math.log1p(tolerance):
        best.reached = True
        return best
    steps = max(settings.steps, MIN_STEPS)
    lo, hi = -LOG2_RANGE, LOG2_RANGE  # log2 lambda: larger lambda, smaller file
    log_weight = 0.0
    for _ in range(MAX_PROBES):
        probe = replace(settings, steps=steps, rate_weight=2.0**log_weight)
        encoded = codec.encode(model, image, color_channels, device, refine=probe, progress=progress)
        consider(model, probe.rate_weight, encoded)
        size = len(encoded.data)
        if abs(size - target_bytes) <= tolerance * target_bytes:
            break
        if size > target_bytes:
            lo = log_weight
        else:
            hi = log_weight
        if hi - lo < 0.1:
            break
        # After lambda = 1, the end of the range first: lambda moves a file by a few per cent at most
        # (bench/RESULTS.md), so most targets far from a model's rate end there after two encodes, not seven.
        log_weight = (hi if size > target_bytes else lo) if log_weight == 0.0 else (lo + hi) / 2
    best.reached = abs(len(best.encoded.data) - target_bytes) <= tolerance * target_bytes
    return best
