"""The shippable weights of a run (RUN_DIR/model.safetensors) and their model card."""

from __future__ import annotations

import os
from pathlib import Path

from ..model import CVQN
from ..weights import load_weights, read_weights, save_weights
from .config import TrainConfig


def run_card(cfg: TrainConfig, preset_name: str, step: int, history: list) -> dict:
    """The model-card facts of a run. A fine-tune (``--context-only``, ``--encoder-only``) keeps its --init
    model's card (that is how the rest of the network was trained) and adds its own steps under
    "context_finetune" or "encoder_finetune"."""
    validation = history[-1] if history else None
    if cfg.finetune != "all" and cfg.init:
        card = dict(read_weights(cfg.init)[2])
        card.pop("kodak", None)  # measured on the old weights
        card[f"{cfg.finetune}_finetune"] = {
            "steps": step,
            "crop": cfg.crop,
            "batch_size": cfg.batch_size,
            "lr_scale": cfg.lr_scale,
            "mse_weight": cfg.mse_weight,
            "chroma_weight": cfg.chroma_weight,
            "rate_weight": cfg.rate_weight,
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
        "chroma_weight": cfg.chroma_weight,
        "rate_weight": cfg.rate_weight,
        "lr_scale": cfg.lr_scale,
        "data": os.path.basename(os.path.normpath(cfg.data)),
        "init": cfg.init,
        "validation": validation,
    }


def export(model: CVQN, path: Path, cfg: TrainConfig, step: int, history: list) -> None:
    """Write the shippable fp16 weights (with their integer tables) and the facts a model card needs."""
    p = model.preset
    name = cfg.name or f"cvqn-{p.name}-c{p.latent_channels}"
    card = run_card(cfg, p.name, step, history)
    if cfg.finetune == "encoder":
        # The --init model's context tables are kept, so that the decoder side stays bit for bit: the new
        # weights have its weights id and decode its files (those of earlier versions too).
        save_weights(model, path, name, card, build_tables=False, same_decoder_as=load_weights(cfg.init))
    else:
        save_weights(model, path, name, card)
