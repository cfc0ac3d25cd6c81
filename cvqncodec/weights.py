"""Weights files: safetensors (no pickle) with the preset and model card facts as metadata (the registry
of installed models is :mod:`cvqncodec.zoo`).

A weights file holds fp16 tensors plus metadata ``cvqn.preset`` (JSON of the Preset), ``cvqn.name`` and
free-form ``cvqn.card`` JSON. The weights id written into every .cvq file is the first 8 bytes of the
SHA-256 over the preset and the name, dtype, shape and bytes of every tensor the *decoder* reads (all but the
encoder's): weights that differ only in their encoder (``cvq train --encoder-only``) decode each other's
files. Before version 0.4 the id covered the encoder too; files that carry such a "legacy" id still decode,
and an encoder fine-tune lists its --init model's ids in ``cvqn.decodes`` (comma-separated hex) so that the
files of the model it replaces keep decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

from . import fixed_point as fp
from .container import WEIGHTS_ID_BYTES
from .context import ExactContextEvaluator
from .errors import ModelError
from .model import CVQN
from .precision import use_channels_last
from .presets import Preset
from .text import escape_control

#: State-dict suffixes of the integer context-model tables (absent from format-1 files and old checkpoints).
TABLE_KEYS = ("int_weight", "int_bias", "int_shift", "input_table", "exp_table")
#: Format 2 added the integer context-model tables (format 1 files cannot code exactly across machines).
WEIGHTS_FORMAT = "2"


#: State-dict prefixes of CVQN.encoder_modules(), the tensors only the encoder reads (the SE importance net: its
#: channel order is written into each file); the weights id leaves them out.
ENCODER_PREFIXES = ("encoder.", "controller.se.")
#: Metadata key of the other weights ids whose files these weights decode (same decoder side).
DECODES_KEY = "cvqn.decodes"


def weights_id(state: dict[str, torch.Tensor], preset: Preset) -> bytes:
    """The id of the decoder side of ``state`` (written into every .cvq file)."""
    return _digest(state, preset, [name for name in state if not name.startswith(ENCODER_PREFIXES)])


def legacy_weights_id(state: dict[str, torch.Tensor], preset: Preset) -> bytes:
    """The id versions before 0.4 wrote: over every tensor, the encoder's included."""
    return _digest(state, preset, list(state))


def _digest(state: dict[str, torch.Tensor], preset: Preset, names: list[str]) -> bytes:
    h = hashlib.sha256(preset.to_json().encode())
    for name in sorted(names):
        t = state[name]
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # reshape(-1) gives unit stride even where .contiguous() keeps odd strides of size-1 dims.
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.digest()[:WEIGHTS_ID_BYTES]


@dataclass
class LoadedModel:
    """A network ready to code, with its name, weights id (written into every .cvq file) and card."""

    name: str
    model: CVQN
    weights_id: bytes
    card: dict
    path: Path | None
    #: Every weights id whose files this model decodes: its own, its legacy one and those of ``cvqn.decodes``.
    decodes: frozenset[bytes] = frozenset()

    def __post_init__(self) -> None:
        self.decodes = self.decodes | {self.weights_id}

    @cached_property
    def evaluators(self) -> list[ExactContextEvaluator]:
        """Exact evaluators of the context models' integer tables (fixed once the weights are loaded), on the
        model's device: a GPU evaluates the wavefronts there, and the integers are the same everywhere."""
        return [ExactContextEvaluator(cm, cm.exp_table.device) for cm in self.model.context_models]


def save_weights(
    model: CVQN,
    path: str | os.PathLike,
    name: str,
    card: dict | None = None,
    build_tables: bool = True,
    same_decoder_as: LoadedModel | None = None,
) -> bytes:
    """Write fp16 weights and the context models' integer tables atomically; returns the id. The tables are
    built here, unless ``build_tables`` is False: a model whose context models did not change keeps the
    tables it was loaded with (rebuilt from fp16 weights they could differ in a last bit). With
    ``same_decoder_as`` (the --init model of an encoder fine-tune) the new weights also decode that model's
    files; ValueError if their decoder sides differ."""
    if build_tables or not model.has_integer_tables():
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
    new_id = weights_id(state, model.preset)
    if same_decoder_as is not None:
        if new_id != same_decoder_as.weights_id:
            raise ValueError(f"the decoder side differs from {same_decoder_as.name!r}'s: its files would not decode")
        meta[DECODES_KEY] = ",".join(sorted(i.hex() for i in same_decoder_as.decodes - {new_id}))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    os.chmod(tmp, 0o644)  # safetensors creates files readable by their owner only
    os.replace(tmp, path)
    return new_id


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
    name: str,
    preset: Preset,
    state: dict[str, torch.Tensor],
    card: dict | None = None,
    path: Path | None = None,
    decodes: frozenset[bytes] = frozenset(),
) -> LoadedModel:
    model = CVQN(preset)
    load_state(model, state)
    if not model.has_integer_tables():
        raise ModelError(
            f"weights {name!r} carry no integer context-model tables; re-export them with "
            "this version (cvq train --init FILE --context-only)"
        )
    model.eval()
    use_channels_last(model)
    # The ids cover the tensors as the model holds them (fp16 rounding included).
    decodes = decodes | {legacy_weights_id(state, preset)}
    return LoadedModel(name, model, weights_id(state, preset), card or {}, path, decodes)


def read_weights(path: str | os.PathLike) -> tuple[dict, Preset, dict, dict[str, torch.Tensor]]:
    """(metadata, preset, card, state) of a weights file of any format version. The preset and the tensors'
    names, shapes and dtypes are checked from the file's header before any tensor is read or any network
    built, and the tensors' values before they are returned: ModelError (exit 7) for anything invalid."""
    meta, preset, card = inspect_weights(path)
    return meta, preset, card, read_tensors(Path(path))


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """A weights file's tensors (floats as fp16), their values checked (:func:`check_values`)."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot read weights {path}: {exc}") from None
    check_values(path, state)
    return {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}


def inspect_weights(path: str | os.PathLike) -> tuple[dict, Preset, dict]:
    """(metadata, preset, card) of a weights file, with its tensors' names, shapes and dtypes checked against
    the preset; reads only the file's header (cheap: ``cvq models`` and the zoo use it on every file)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            preset, card = parse_metadata(path, meta)
            tensors = {k: _tensor_info(f.get_slice(k)) for k in f.keys()}  # noqa: SIM118 (not iterable)
    except FileNotFoundError:
        raise ModelError(f"weights file not found: {path}") from None
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"cannot read weights {path}: {exc}") from None
    check_tensors(path, preset, tensors)
    return meta, preset, card


def parse_metadata(path: Path, meta: dict) -> tuple[Preset, dict]:
    """The preset (types and ranges checked) and model card of a weights file's metadata."""
    if "cvqn.preset" not in meta:
        raise ModelError(f"{path} is not a cvqncodec weights file (no preset metadata)")
    try:
        preset = Preset.from_json(meta["cvqn.preset"])
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path}: invalid preset metadata: {exc}") from None
    try:
        card = json.loads(meta.get("cvqn.card", "{}"))
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"{path}: invalid model card metadata: {exc}") from None
    if not isinstance(card, dict):
        raise ModelError(f"{path}: invalid model card metadata: not a JSON object")
    return preset, card


def _tensor_info(tensor_slice) -> tuple[tuple[int, ...], bool]:
    """(shape, is floating point) of a tensor in a safetensors header."""
    dtype = str(tensor_slice.get_dtype()).upper()
    return tuple(tensor_slice.get_shape()), dtype.startswith(("F", "BF"))


def check_tensors(path: Path, preset: Preset, tensors: dict[str, tuple[tuple[int, ...], bool]]) -> None:
    """ModelError unless the file's tensors are exactly those of ``preset``'s network (the integer tables may
    be missing: format-1 files), with the same shapes and float/integer kinds."""
    expected = expected_tensors(preset)
    unexpected = sorted(set(tensors) - set(expected))
    missing = sorted(k for k in set(expected) - set(tensors) if not k.endswith(TABLE_KEYS))
    wrong = sorted(k for k in set(tensors) & set(expected) if tensors[k] != expected[k])
    if unexpected or missing or wrong:
        detail = "; ".join(
            f"{what} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
            for what, names in (("unexpected", unexpected), ("missing", missing), ("wrong shape or type", wrong))
            if names
        )
        raise ModelError(f"{path}: weights do not match their preset: {escape_control(detail)}")


class _ShapesOnly(TorchFunctionMode):
    """Builds modules with their parameters and buffers on the meta device: shapes without memory or
    initialisation cost. ``arange`` and ``linspace`` stay on the CPU; ``eye`` and a meta tensor times a number
    are empty meta tensors: their meta kernels take seconds to set up on first use."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.eye:
            n = args[0]
            m = args[1] if len(args) > 1 else kwargs.get("m", n)
            return torch.empty(n, m, dtype=kwargs.get("dtype"), device="meta")
        if func in _SCALAR_OPS and len(args) == 2 and not kwargs:
            meta = [a for a in args if isinstance(a, torch.Tensor) and a.is_meta]
            if meta and any(isinstance(a, (int, float)) for a in args):
                return torch.empty(meta[0].shape, dtype=meta[0].dtype, device="meta")
        if func in _META_CONSTRUCTORS and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


_SCALAR_OPS = {
    torch.Tensor.__mul__,
    torch.Tensor.__rmul__,
    torch.Tensor.mul,
    torch.Tensor.__add__,
    torch.Tensor.__radd__,
    torch.Tensor.add,
    torch.Tensor.__sub__,
    torch.Tensor.sub,
    torch.Tensor.__truediv__,
    torch.Tensor.div,
    torch.mul,
    torch.add,
}
_META_CONSTRUCTORS = {
    torch.empty,
    torch.empty_strided,
    torch.zeros,
    torch.ones,
    torch.full,
    torch.rand,
    torch.randn,
    torch.randint,
    torch.tensor,
}


@lru_cache(maxsize=16)
def expected_tensors(preset: Preset) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Name -> (shape, is floating point) of every tensor in the state of ``preset``'s network, from a
    network built on the meta device (the preset's ranges bound the time this takes)."""
    with _ShapesOnly():
        model = CVQN(preset)
    return {k: (tuple(v.shape), v.is_floating_point()) for k, v in model.state_dict().items()}


#: Allowed range of every integer table (docs/FORMAT.md; the exactness bound of fixed_point.py).
TABLE_RANGES = {
    "int_weight": (-fp.WEIGHT_LIMIT, fp.WEIGHT_LIMIT),
    "int_bias": (-fp.BIAS_LIMIT, fp.BIAS_LIMIT),
    "int_shift": (0, fp.MAX_SHIFT + fp.ACT_FRAC),
    "input_table": (-fp.ACT_LIMIT, fp.ACT_LIMIT),
    "exp_table": (0, 1 << fp.CDF_PRECISION),
}


def check_values(path: Path, state: dict[str, torch.Tensor]) -> None:
    """ModelError for non-finite float weights or integer tables out of their range (such tables would
    break the exact arithmetic or the CDFs' validity, whatever the file's header says)."""
    for name, t in state.items():
        if t.is_floating_point():
            if not bool(torch.isfinite(t).all()):
                raise ModelError(f"{path}: tensor {escape_control(name)} holds non-finite values")
            continue
        kind = name.rsplit(".", 1)[-1]
        if kind in TABLE_RANGES and t.numel():
            low, high = TABLE_RANGES[kind]
            if int(t.min()) < low or int(t.max()) > high:
                raise ModelError(f"{path}: integer table {escape_control(name)} out of range")
            if kind == "exp_table" and bool((t[1:] > t[:-1]).any()):
                raise ModelError(f"{path}: integer table {escape_control(name)} is not non-increasing")


def model_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a model (it is written into every .cvq header), or None."""
    if not name:
        return "empty"
    if len(name.encode("utf-8")) > 255:
        return "longer than 255 bytes"
    if escape_control(name) != name:
        return "contains control characters"
    return None


def load_weights(path: str | os.PathLike) -> LoadedModel:
    """A model ready to code: the current format, with integer context-model tables."""
    meta, preset, card, name = check_weights(path)
    return model_from_state(name, preset, read_tensors(Path(path)), card, Path(path), decoded_ids(meta, path))


def decoded_ids(meta: dict, path: str | os.PathLike) -> frozenset[bytes]:
    """The ids of ``cvqn.decodes``: files of earlier weights with the same decoder; ModelError if malformed."""
    items = [item for item in meta.get(DECODES_KEY, "").split(",") if item]
    if any(len(item) != 2 * WEIGHTS_ID_BYTES for item in items):
        raise ModelError(f"{path}: malformed {DECODES_KEY} metadata")
    try:
        return frozenset(bytes.fromhex(item) for item in items)
    except ValueError:
        raise ModelError(f"{path}: malformed {DECODES_KEY} metadata") from None


def check_weights(path: str | os.PathLike) -> tuple[dict, Preset, dict, str]:
    """(metadata, preset, card, model name) of a weights file that :func:`load_weights` can load, as far as
    its header tells (format, name, preset, tensor shapes); ModelError otherwise. Reads no tensor."""
    meta, preset, card = inspect_weights(path)
    if meta.get("cvqn.format") != WEIGHTS_FORMAT:
        raise ModelError(
            f"{path} is a weights file of format {escape_control(repr(meta.get('cvqn.format')))}; this version "
            f"reads format {WEIGHTS_FORMAT} (fine-tune it into the current format with "
            "cvq train --init FILE --context-only)"
        )
    name = meta.get("cvqn.name") or Path(path).stem
    problem = model_name_problem(name)
    if problem is not None:
        raise ModelError(f"{path}: model name {escape_control(repr(name))} is {problem}")
    return meta, preset, card, name


def load_for_training(path: str | os.PathLike) -> CVQN:
    """The float network of a weights file of any format (for warm starts); tables may be missing."""
    _, preset, _, state = read_weights(path)
    model = CVQN(preset)
    load_state(model, state, tables_optional=True)
    return model
