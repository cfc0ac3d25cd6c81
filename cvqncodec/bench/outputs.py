"""Where ``cvq bench`` writes besides stdout: the ``--json-dir`` folder (one CompressAI file per codec) and
the ``--crops`` folder. Every check is made before any work; files are written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import OutputError


def names_a_folder(path: str) -> bool:
    """True for an existing folder or a path ending in a separator (``--json out/``)."""
    return path.endswith(("/", os.sep)) or Path(path).is_dir()


def check_json_dir(folder: str, names: Sequence[str], force: bool) -> None:
    """Refuse a file, or (without ``force``) any of the files ``names`` already in ``folder``."""
    from ..imageio import check_output

    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if p.is_dir():
        for name in names:
            check_output(str(p / name), force)


def check_empty_folder(folder: str, force: bool) -> None:
    """Refuse a file, or a non-empty folder without ``force`` (as ``cvq analyze -o``)."""
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{folder}: exists and is not a folder")
    if p.is_dir() and any(p.iterdir()) and not force:
        raise OutputError(f"{folder}: folder is not empty (use --force to overwrite)")


def make_folder(folder: str) -> Path:
    """Create ``folder`` (and its parents); OutputError when that fails."""
    p = Path(folder)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create folder: {exc.strerror or exc}") from None
    return p


def write_files(folder: str, files: dict[str, bytes]) -> list[Path]:
    """Write {name: content} into ``folder`` (created), each atomically; returns the paths."""
    from ..imageio import write_atomic

    root = make_folder(folder)
    written = []
    for name, data in files.items():
        write_atomic(str(root / name), data, force=True)
        written.append(root / name)
    return written
