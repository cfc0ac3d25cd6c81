"""Weights files: safetensors (no pickle) with the preset and model card facts as metadata (the registry
of installed models is :mod:`cvqncodec.zoo`).

A weights file holds fp16 tensors plus metadata ``cvqn.preset`` (JSON of the Preset), ``cvqn.name`` and
free-form ``cvqn.card`` JSON. The weights id written into every .cvq file is the first 8 bytes of the
SHA-256 over the preset and every tensor's name, dtype, shape and bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .context import ExactContextEvaluator
from .errors import ModelError
from .model import CVQN
from .presets import Preset

#: State-dict suffixes of the integer context-model tables (absent from format-1 files and old checkpoints).
TABLE_KEYS = ("int_weight", "int_bias", "int_shift", "input_table", "exp_table")
#: Format 2 added the integer context-model tables (format 1 files cannot code exactly across machines).
WEIGHTS_FORMAT = "2"


def weights_id(state: dict[str, torch.Tensor], preset: Preset) -> bytes:
    h = hashlib.sha256(preset.to_json().encode())
    for name in sorted(state):
        t = state[name]
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # reshape(-1) gives unit stride even where .contiguous() keeps odd strides of size-1 dims.
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()[:8]


@dataclass
class LoadedModel:
    """A network ready to code, with its name, weights id (written into every .cvq file) and card."""

    name: str
    model: CVQN
    weights_id: bytes
    card: dict
    path: Path | None

    @cached_property
    def evaluators(self) -> list[ExactContextEvaluator]:
        """Exact evaluators of the context models' integer tables (fixed once the weights are loaded)."""
        return [ExactContextEvaluator(cm) for cm in self.model.context_models]


def save_weights(model: CVQN, path: str | os.PathLike, name: str, card: dict | None = None) -> bytes:
    """Write fp16 weights and the context models' integer tables (built here) atomically; returns the id."""
    model.build_integer_tables()
    state = {
        k: (v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.detach().cpu()).clone(
            memory_format=torch.contiguous_format
        )
        for k, v in model.state_dict().items()
    }
    meta = {
        "cvqn.format": WEIGHTS_FORMAT,
        "cvqn.name": name,
        "cvqn.preset": model.preset.to_json(),
        "cvqn.card": json.dumps(card or {}, sort_keys=True),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)  # safetensors creates files readable by their owner only
    os.replace(tmp, path)
    return weights_id(state, model.preset)


def load_state(model: CVQN, state: dict[str, torch.Tensor], tables_optional: bool = False) -> None:
    """Load a state (fp16 or fp32 floats, integer tables) into ``model``; ModelError if it does not fit.
    With ``tables_optional`` the integer tables may be absent (format-1 files, old checkpoints)."""
    try:
        missing, unexpected = model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=False
        )
    except RuntimeError as exc:
        raise ModelError(f"weights do not match their preset: {str(exc).splitlines()[0]}") from None
    missing = [k for k in missing if not (tables_optional and k.endswith(TABLE_KEYS))]
    if missing or unexpected:
        raise ModelError(f"weights do not match their preset: missing {missing[:3]}, unexpected {unexpected[:3]}")


def model_from_state(
    name: str, preset: Preset, state: dict[str, torch.Tensor], card: dict | None = None, path: Path | None = None
) -> LoadedModel:
    model = CVQN(preset)
    load_state(model, state)
    if not model.has_integer_tables():
        raise ModelError(
            f"weights {name!r} carry no integer context-model tables; re-export them with "
            "this version (cvq train --init FILE --context-only)"
        )
    model.eval()
    # The id covers the tensors as the model holds them (fp16 rounding included).
    return LoadedModel(name, model, weights_id(state, preset), card or {}, path)


def read_weights(path: str | os.PathLike) -> tuple[dict, Preset, dict, dict[str, torch.Tensor]]:
    """(metadata, preset, card, state) of a weights file of any format version."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except FileNotFoundError:
        raise ModelError(f"weights file not found: {path}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot read weights {path}: {exc}") from None
    if "cvqn.preset" not in meta:
        raise ModelError(f"{path} is not a cvqncodec weights file (no preset metadata)")
    try:
        preset = Preset.from_json(meta["cvqn.preset"])
        card = json.loads(meta.get("cvqn.card", "{}"))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path}: invalid preset metadata: {exc}") from None
    state = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
    return meta, preset, card, state


def load_weights(path: str | os.PathLike) -> LoadedModel:
    """A model ready to code: the current format, with integer context-model tables."""
    meta, preset, card, state = read_weights(path)
    if meta.get("cvqn.format") != WEIGHTS_FORMAT:
        raise ModelError(
            f"{path} is a weights file of format {meta.get('cvqn.format')!r}; this version reads "
            f"format {WEIGHTS_FORMAT} (fine-tune it into the current format with "
            "cvq train --init FILE --context-only)"
        )
    return model_from_state(meta.get("cvqn.name", Path(path).stem), preset, state, card, Path(path))


def load_for_training(path: str | os.PathLike) -> CVQN:
    """The float network of a weights file of any format (for warm starts); tables may be missing."""
    _, preset, _, state = read_weights(path)
    model = CVQN(preset)
    load_state(model, state, tables_optional=True)
    return model
