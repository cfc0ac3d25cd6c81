"""The files of a run folder that a run resumes from (``checkpoint.pt``, ``history.jsonl``), and the preset
a run trains (``--preset`` and its overrides, the ``--init`` model's for a fine-tune, the checkpoint's on
``--resume``)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..model import CVQN
from ..presets import Preset, get_preset
from ..weights import check_weights, load_state, read_weights
from .config import TrainConfig

#: File names inside RUN_DIR.
CHECKPOINT = "checkpoint.pt"
HISTORY = "history.jsonl"
#: Preset fields that ``--context-only`` may change on the --init model's preset.
CONTEXT_FIELDS = ("context_filters", "context_blocks")


def save_checkpoint(
    path: Path, model: CVQN, opt: torch.optim.Optimizer, step: int, cfg: TrainConfig, history: list
) -> None:
    """Resumable state (weights_only-loadable: tensors, numbers, strings, lists, dicts), written atomically."""
    state = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "step": step,
        "preset": model.preset.to_json(),
        "config": json.dumps(asdict(cfg)),
        "history": json.dumps(history),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    return torch.load(path, map_location=device, weights_only=True)


def resume_model(model: CVQN, state: dict) -> tuple[int, list[dict]]:
    """Load a checkpoint's weights into ``model``; returns (step, validation history). A checkpoint from
    before the integer tables lacks them: they are rebuilt at export."""
    load_state(model, state["model"], tables_optional=True)
    return state["step"], json.loads(state["history"])


def append_history(path: Path, row: dict) -> None:
    """One validation as a line of RUN_DIR/history.jsonl."""
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


#: The preset of a run that names none and starts from no weights file.
DEFAULT_PRESET = "compact"


def preset_for_run(
    name: str | None,
    out: str | os.PathLike,
    *,
    init: str | None = None,
    finetune: str = "all",
    resume: bool = False,
    **overrides,
) -> Preset:
    """The preset a run trains; ValueError for a bad one (``cvq train`` reports it as a usage error).

    ``name`` with ``overrides`` (Preset fields; None = the preset's) is always checked; no ``name`` means the
    ``init`` weights' own preset (with the overrides), else ``DEFAULT_PRESET``: a warm start keeps the
    architecture of the model it starts from unless told otherwise. For a fine-tune
    (``finetune`` "context" or "encoder"), the ``init`` weights' own preset (with ``--context-only``, with
    the context-model overrides); on
    ``resume`` of a run folder with a checkpoint, the checkpoint's preset (the options are ignored)."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if name is None and init:
        preset = read_weights(init)[1].replace(**overrides)
    else:
        preset = get_preset(name or DEFAULT_PRESET, **overrides)
    if finetune != "all":
        if not init:
            raise ValueError(f"--{finetune}-only fine-tunes an existing model: give it with --init")
        if finetune == "encoder":
            check_weights(init)  # its decoder is kept as it is: it must be loadable for coding
        changes = {k: v for k, v in overrides.items() if k in CONTEXT_FIELDS} if finetune == "context" else {}
        preset = read_weights(init)[1].replace(**changes)
    checkpoint = Path(out) / CHECKPOINT
    if resume and checkpoint.exists():
        preset = Preset.from_json(read_checkpoint(checkpoint)["preset"])
    return preset
