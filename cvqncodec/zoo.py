"""The model zoo: which weights files are installed, by name (the file format is :mod:`cvqncodec.weights`)."""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass, replace
from pathlib import Path

from safetensors import SafetensorError, safe_open

from .errors import ModelError

SUFFIX = ".safetensors"
#: Model used when neither --model nor --quality is given.
DEFAULT_MODEL = "cvqn-q3"
#: The rates ``--quality`` picks from, smallest files first: quality N is model cvqn-qN.
QUALITIES = range(1, 6)


def weights_dirs() -> list[Path]:
    """Where models are looked for, earlier folders first: every folder in $CVQ_WEIGHTS (separated by
    ``os.pathsep``), the source tree's ``weights/`` (uninstalled runs), the installed package data."""
    dirs = [Path(d) for d in os.environ.get("CVQ_WEIGHTS", "").split(os.pathsep) if d]
    dirs.append(Path(__file__).resolve().parent.parent / "weights")
    packaged = package_weights()
    if packaged is not None:
        dirs.append(packaged)
    return dirs


def package_weights() -> Path | None:
    """The shipped models installed with the package (``cvqncodec/weights_data``, from the top-level
    ``weights/`` folder: see setup.py), in any install scheme; None when absent (an editable install)."""
    folder = importlib.resources.files(__package__) / "weights_data"
    return Path(str(folder)) if folder.is_dir() else None


def model_name(path: Path) -> str:
    """The name a weights file gives itself (its metadata), or its file name without the suffix."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("cvqn.name") or path.name[: -len(SUFFIX)]
    except (SafetensorError, OSError, ValueError):
        return path.name[: -len(SUFFIX)]


@dataclass(frozen=True)
class ModelFile:
    """A weights file found over :func:`weights_dirs`, as ``cvq models`` lists it."""

    name: str
    path: Path
    #: Why it cannot be loaded (a ModelError's message), or None when it can.
    problem: str | None = None
    #: The file that answers to the same name instead (an earlier usable one), or None.
    shadowed_by: Path | None = None


def weights_files() -> list[Path]:
    """Every weights file over :func:`weights_dirs`, in search order (each file once)."""
    files, seen = [], set()
    for d in weights_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*" + SUFFIX)):
                key = p.resolve()
                if key not in seen:
                    seen.add(key)
                    files.append(p)
    return files


def file_problem(path: Path) -> str | None:
    """Why a weights file cannot be loaded, from its header alone (no tensor is read), or None."""
    from .weights import check_weights

    try:
        check_weights(path)
    except ModelError as exc:
        return str(exc)
    return None


def scan_models() -> list[ModelFile]:
    """Every weights file, checked, in search order: what ``cvq models`` lists, unusable files included."""
    entries = [ModelFile(model_name(p), p, file_problem(p)) for p in weights_files()]
    chosen = available_models()
    return [e if chosen.get(e.name) in (None, e.path) else replace(e, shadowed_by=chosen[e.name]) for e in entries]


def available_models() -> dict[str, Path]:
    """Model name -> weights file, over :func:`weights_dirs` (earlier folders win). A file that cannot be
    loaded never shadows a usable one of the same name; a name with only unusable files maps to the first
    of them (loading it says why)."""
    by_name: dict[str, list[Path]] = {}
    for p in weights_files():
        by_name.setdefault(model_name(p), []).append(p)
    return {name: paths[0] if len(paths) == 1 else _first_usable(paths) for name, paths in by_name.items()}


def _first_usable(paths: list[Path]) -> Path:
    return next((p for p in paths if file_problem(p) is None), paths[0])


def quality_model(quality: int) -> str:
    """The shipped model of rate ``quality`` (one of :data:`QUALITIES`)."""
    return f"cvqn-q{quality}"


def resolve_model(name_or_path: str | None, allow_path: bool = True) -> Path:
    """A model name from :func:`available_models`, or (``allow_path``) a path to a weights file.
    Names read from a .cvq header are looked up by name only: a file never picks a path to load."""
    name = name_or_path or DEFAULT_MODEL
    if allow_path and (os.sep in name or name.endswith(SUFFIX) or Path(name).is_file()):
        return Path(name)
    models = available_models()
    if name not in models:
        have = ", ".join(models) or "none installed"
        raise ModelError(f"no model named {name!r} (available: {have})")
    return models[name]
