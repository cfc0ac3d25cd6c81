"""Training with the paper's loss (Eq. 8) and schedule (Sec. 4.1); single process, or DDP via torchrun.

L = alpha * (1 - MS-SSIM) + (1/G) sum_g L_ent,g + beta * (1/G) sum_g L_GMM,g, with L_ent in bits per
symbol, alpha = 128, beta = 0.001. Adam with per-part learning rates (encoder 1e-4, quantizer 1e-4,
entropy model 5e-5, decoder 1e-4), each multiplied by 0.2 at 50 % and 75 % of the run.

Modules: ``config`` (TrainConfig), ``data`` (images, split, random crops), ``loss`` (Eq. 8, learning
rates, optimizer step), ``warm_start`` (``--init``), ``validation`` (held-out metrics, RE importance of
Eq. 6), ``checkpoint`` (run-folder state, the preset of a run), ``export`` (weights and model card),
``distributed`` (DDP), ``loop`` (the run itself).
"""

from __future__ import annotations

from ..metrics import ms_ssim_window
from ..precision import bf16_is_fast, use_channels_last
from .checkpoint import preset_for_run, save_checkpoint
from .config import TrainConfig
from .data import CropSampler, load_training_image, split_files
from .export import export, run_card
from .loop import train
from .loss import (
    context_loss_terms,
    loss_terms,
    lr_factor,
    optimizer_step,
    parameter_groups,
)
from .validation import update_re_importance, validate
from .warm_start import group_channel_map, level_map, warm_start, warm_start_levels

__all__ = [
    "CropSampler",
    "TrainConfig",
    "bf16_is_fast",
    "context_loss_terms",
    "export",
    "group_channel_map",
    "level_map",
    "load_training_image",
    "loss_terms",
    "lr_factor",
    "ms_ssim_window",
    "optimizer_step",
    "parameter_groups",
    "preset_for_run",
    "run_card",
    "save_checkpoint",
    "split_files",
    "train",
    "update_re_importance",
    "use_channels_last",
    "validate",
    "warm_start",
    "warm_start_levels",
]
