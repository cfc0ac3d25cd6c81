"""The model zoo: which weights files are installed, by name (the file format is :mod:`cvqncodec.weights`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors import SafetensorError, safe_open

from .errors import ModelError

SUFFIX = ".safetensors"
#: Model used when neither --model nor --quality is given.
DEFAULT_MODEL = "cvqn-q3"


def weights_dirs() -> list[Path]:
    """Where shipped weights are looked for: $CVQ_WEIGHTS, the source tree, the installed data files."""
    dirs = []
    if os.environ.get("CVQ_WEIGHTS"):
        dirs.append(Path(os.environ["CVQ_WEIGHTS"]))
    dirs.append(Path(__file__).resolve().parent.parent / "weights")
    dirs.append(Path(sys.prefix) / "share" / "cvqncodec" / "weights")
    return dirs


def model_name(path: Path) -> str:
    """The name a weights file gives itself (its metadata), or its file name without the suffix."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("cvqn.name") or path.name[: -len(SUFFIX)]
    except (SafetensorError, OSError, ValueError):
        return path.name[: -len(SUFFIX)]


def available_models() -> dict[str, Path]:
    """Model name -> weights file, over :func:`weights_dirs` (earlier folders win)."""
    found: dict[str, Path] = {}
    for d in weights_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*" + SUFFIX)):
                found.setdefault(model_name(p), p)
    return found


def quality_model(quality: int) -> str:
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
