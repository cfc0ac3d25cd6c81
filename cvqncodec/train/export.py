"""The shippable weights of a run (RUN_DIR/model.safetensors) and their model card."""

from __future__ import annotations

import os
from pathlib import Path

from ..model import CVQN
from ..weights import read_weights, save_weights
from .config import TrainConfig


def run_card(cfg: TrainConfig, preset_name: str, step: int, history: list) -> dict:
    """The model-card facts of a run. A ``--context-only`` run keeps its --init model's card (that is
    how the network was trained) and adds its own steps under "context_finetune"."""
    validation = history[-1] if history else None
    if cfg.context_only and cfg.init:
        card = dict(read_weights(cfg.init)[2])
        card.pop("kodak", None)  # measured on the old weights
        card["context_finetune"] = {
            "steps": step,
            "crop": cfg.crop,
            "batch_size": cfg.batch_size,
            "lr_scale": cfg.lr_scale,
            "init": cfg.init,
        }
        card["validation"] = validation
        return card
    return {
        "preset": preset_name,
        "steps": step,
        "crop": cfg.crop,
        "batch_size": cfg.batch_size,
        "mse_weight": cfg.mse_weight,
        "lr_scale": cfg.lr_scale,
        "data": os.path.basename(os.path.normpath(cfg.data)),
        "init": cfg.init,
        "validation": validation,
    }


def export(model: CVQN, path: Path, cfg: TrainConfig, step: int, history: list) -> None:
    """Write the shippable fp16 weights (with their integer tables) and the facts a model card needs."""
    p = model.preset
    save_weights(model, path, cfg.name or f"cvqn-{p.name}-c{p.latent_channels}", run_card(cfg, p.name, step, history))
