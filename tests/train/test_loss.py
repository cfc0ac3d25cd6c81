"""The loss of Eq. 8, the context-only loss and the schedule of Sec. 4.1."""

from __future__ import annotations

import torch

from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.train import TrainConfig, context_loss_terms, loss_terms, lr_factor, ms_ssim_window


def test_learning_rate_drops_twice():
    assert [lr_factor(s, 400) for s in (0, 199, 200, 299, 300, 399)] == [1, 1, 0.2, 0.2, 0.04, 0.04]


def test_ms_ssim_window_fits_crop():
    assert ms_ssim_window(256) == 11 and ms_ssim_window(128) == 7
    assert all((ms_ssim_window(s) - 1) * 16 < s for s in (64, 96, 128, 161, 192))


def test_train_config_defaults_follow_the_paper():
    cfg = TrainConfig(data=".", out=".")
    assert (cfg.alpha, cfg.beta) == (128.0, 0.001)
    assert (cfg.lr_encoder, cfg.lr_quantizer, cfg.lr_entropy, cfg.lr_decoder) == (1e-4, 1e-4, 5e-5, 1e-4)


def added_term(**weights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What ``weights`` (TrainConfig fields) add to the loss of a tiny model on a batch, its error x_hat - x and
    its L_ent (Eq. 8's rate term)."""
    torch.manual_seed(0)
    model = CVQN(get_preset("tiny"))
    x = torch.rand(2, 3, 64, 64)
    torch.manual_seed(1)
    plain, _, _, ent = loss_terms(model, x, TrainConfig(data=".", out="."), 3, False)
    with torch.no_grad():
        err = model(x).x_hat.float() - x
    weighted, *_ = loss_terms(model, x, TrainConfig(data=".", out=".", **weights), 3, False)
    return weighted - plain, err, ent


def test_mse_weight_adds_exactly_its_term():
    added, err, _ = added_term(mse_weight=100.0)
    assert torch.allclose(added, 100.0 * torch.mean(err**2), rtol=1e-4)


def test_chroma_weight_adds_the_mse_of_cb_and_cr():
    added, err, _ = added_term(chroma_weight=50.0)
    cb = -0.168736 * err[:, 0] - 0.331264 * err[:, 1] + 0.5 * err[:, 2]
    cr = 0.5 * err[:, 0] - 0.418688 * err[:, 1] - 0.081312 * err[:, 2]
    chroma_mse = (torch.mean(cb**2) + torch.mean(cr**2)) / 2
    assert torch.allclose(added, 50.0 * chroma_mse, rtol=1e-4)


def test_rate_weight_scales_the_entropy_term():
    added, _, ent = added_term(rate_weight=2.5)
    assert ent > 0 and torch.allclose(added, 1.5 * ent, rtol=1e-4)


def test_context_only_loss_is_the_entropy_term_of_the_full_model():
    """L_ent and the bpp estimate of ``--context-only`` equal those of the full forward pass (Eq. 8)."""
    torch.manual_seed(0)
    model = CVQN(get_preset("tiny"))
    x = torch.rand(2, 3, 32, 48)
    ent, msssim, bpp, ent_detached = context_loss_terms(model, x)
    with torch.no_grad():
        out = model(x)
    assert torch.equal(ent.detach(), torch.stack(out.group_bits).mean()) and torch.equal(ent_detached, ent.detach())
    assert torch.equal(bpp, out.bpp) and torch.isnan(msssim)
    assert ent.requires_grad
