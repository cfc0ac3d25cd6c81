"""The loss of Eq. 8, the context-only loss, Adam's parameter groups and schedule (Sec. 4.1), the parts a
fine-tune freezes, one step."""

from __future__ import annotations

import torch
from pytorch_msssim import ms_ssim

from ..metrics import rgb_to_chroma
from ..model import CVQN, latent_bpp
from .config import TrainConfig


def parameter_groups(model: CVQN, cfg: TrainConfig) -> list[dict]:
    """Adam's groups with the paper's per-part learning rates (x ``lr_scale``); only the entropy model's
    with ``finetune="context"``, only the encoder's with ``finetune="encoder"``."""
    s = cfg.lr_scale
    entropy = {"params": list(model.context_models.parameters()), "lr": cfg.lr_entropy * s, "name": "entropy"}
    encoder = {
        "params": [p for m in model.encoder_modules() for p in m.parameters()],
        "lr": cfg.lr_encoder * s,
        "name": "encoder",
    }
    if cfg.finetune == "context":
        return [entropy]
    if cfg.finetune == "encoder":
        return [encoder]
    return [
        encoder,
        {"params": list(model.controller.quantizers.parameters()), "lr": cfg.lr_quantizer * s, "name": "quantizer"},
        entropy,
        {"params": list(model.decoder.parameters()), "lr": cfg.lr_decoder * s, "name": "decoder"},
    ]


def lr_factor(step: int, total: int) -> float:
    """x0.2 at 50 % and again at 75 % of the run (epochs 200 and 300 of 400 in Sec. 4.1)."""
    return 1.0 if step < total * 0.5 else (0.2 if step < total * 0.75 else 0.04)


def set_learning_rates(opt: torch.optim.Optimizer, base_lrs: list[float], factor: float) -> None:
    for group, base in zip(opt.param_groups, base_lrs):
        group["lr"] = base * factor


def loss_terms(model: torch.nn.Module, x: torch.Tensor, cfg: TrainConfig, win: int, bf16: bool):
    """Eq. 8 with its rate term x ``rate_weight`` (+ ``mse_weight`` x MSE, + ``chroma_weight`` x the mean squared
    error of BT.601 Cb and Cr) on a batch. Returns (loss, MS-SSIM, bpp, mean L_ent), the last three detached."""
    with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=bf16):
        out = model(x)
    x_hat = out.x_hat.float()
    msssim = ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0, win_size=win)
    ent = torch.stack(out.group_bits).mean()
    loss = cfg.alpha * (1 - msssim) + cfg.rate_weight * ent + cfg.beta * out.gmm_nll
    if cfg.mse_weight:
        loss = loss + cfg.mse_weight * torch.mean((x_hat - x) ** 2)
    if cfg.chroma_weight:
        loss = loss + cfg.chroma_weight * torch.mean(rgb_to_chroma(x_hat - x) ** 2)
    return loss, msssim.detach(), out.bpp.detach(), ent.detach()


def context_loss_terms(model: CVQN, x: torch.Tensor):
    """L_ent alone, with the encoder and quantizer frozen (``--context-only``); MS-SSIM is NaN (not computed).
    Returns the same four terms as :func:`loss_terms`."""
    controller = model.controller
    with torch.no_grad():
        groups_sym, _ = controller.quantize_symbols(model.encoder(x).float())
        groups_hat = controller.dequantize_groups(groups_sym)
    bits = torch.stack([cm.cross_entropy_bits(g, s) for cm, g, s in zip(model.context_models, groups_hat, groups_sym)])
    ent = bits.mean()
    return ent, torch.tensor(float("nan")), latent_bpp(bits.detach(), controller.group_channels), ent.detach()


def freeze_for_finetune(model: CVQN, finetune: str) -> None:
    """Everything but the part that ``finetune`` names stops learning: the context models (``--context-only``)
    or the encoder, with the SE importance net if any (``--encoder-only``); "all" freezes nothing."""
    if finetune == "all":
        return
    model.requires_grad_(False)
    for part in [model.context_models] if finetune == "context" else model.encoder_modules():
        part.requires_grad_(True)


def optimizer_step(model: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Backward, gradient-norm clipping at 1, and one Adam step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
