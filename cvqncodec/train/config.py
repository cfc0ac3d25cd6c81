"""The settings of a training run (``cvq train`` options; defaults from the paper's Sec. 4.1 and Eq. 8)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    data: str
    out: str
    steps: int = 20000
    batch_size: int = 8
    crop: int = 192
    #: alpha and beta of Eq. 8.
    alpha: float = 128.0
    beta: float = 0.001
    #: Weight of an extra MSE term in the distortion (0 = the paper's Eq. 8). Pure MS-SSIM barely constrains
    #: each channel's mean, and short CPU runs then decode with shifted colours (sepia): see README.
    mse_weight: float = 0.0
    #: Weight of an extra MSE term on the BT.601 chroma (Cb, Cr) alone: MS-SSIM on RGB lets a model trade
    #: colour detail for bits, which shows as washed-out colours (chroma spread below 1; #25).
    chroma_weight: float = 0.0
    #: lambda: weight of the rate term (1/G) sum_g L_ent,g of Eq. 8 (1 = the paper's). Above 1 a model spends
    #: fewer bits for the same distortion terms.
    rate_weight: float = 1.0
    lr_encoder: float = 1e-4
    lr_quantizer: float = 1e-4
    lr_entropy: float = 5e-5
    lr_decoder: float = 1e-4
    lr_scale: float = 1.0
    #: Images of the data folder held out for validation (chosen by a fixed shuffle).
    val_images: int = 8
    val_every: int = 500
    checkpoint_minutes: float = 3.0
    max_side: int = 768
    bf16: bool = True
    seed: int = 0
    init: str | None = None
    #: Steps between updates of the reconstruction-error importance (Eq. 6) of an "re" preset.
    re_every: int = 1000
    #: Model name written into the exported RUN_DIR/model.safetensors.
    name: str | None = None
    #: Which parts of the model learn: "all"; "context", the context models alone on L_ent of
    #: Eq. 8 (the quantization-aware fine-tune that fits a float-trained model to its integer tables, see
    #: fixed_point.py); "encoder", the encoder alone on Eq. 8 with the decoder, quantizer and context models
    #: frozen (files of the --init model's decoder; it shrinks the gap that per-image refinement measures).
    finetune: str = "all"
    #: Where to train: "auto" (a GPU when there is one; under torchrun, each process's own), "cpu" or "cuda".
    device: str = "auto"


def lr_scale_for(lr: float) -> float:
    """``cvq train --lr LR`` as ``--lr-scale``: LR is the learning rate of the encoder, quantizer and decoder
    (the paper's 1e-4), and the entropy model keeps the paper's half of it."""
    if not lr > 0:
        raise ValueError(f"--lr must be positive, not {lr}")
    return lr / TrainConfig.lr_encoder
