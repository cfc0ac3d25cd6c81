"""Channel influence (Sec. 2, Fig. 1): the loss when one channel of the quantized latent is zeroed.

The same computation gives the reconstruction-error channel importance of Eq. 6.
"""
from __future__ import annotations

import torch

from .metrics import ms_ssim, ms_ssim_db, psnr
from .model import CVQN, pad_to_multiple


@torch.no_grad()
def channel_influence(model: CVQN, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """For every latent channel c: PSNR loss (dB), MS-SSIM loss and MS-SSIM loss in dB when
    Z-hat[c] = 0 before decoding. ``image`` is (1, 3, H, W) in [0, 1]."""
    h, w = image.shape[-2:]
    x = pad_to_multiple(image)
    latent = model.quantize(x)
    groups = [s.unsqueeze(0).to(x.device) for s in latent.groups]
    z_hat = model.controller.dequantize(groups, latent.permutation)

    def decode(z: torch.Tensor) -> torch.Tensor:
        return model.decoder(z).clamp(0, 1)[:, :, :h, :w]

    base = decode(z_hat)
    base_psnr, base_ms = psnr(image, base), ms_ssim(image, base)
    rows = []
    for c in range(z_hat.shape[1]):
        z = z_hat.clone()
        z[:, c] = 0
        rec = base if torch.equal(z, z_hat) else decode(z)
        ms = ms_ssim(image, rec)
        rows.append((base_psnr - psnr(image, rec),
                     float("nan") if ms is None else base_ms - ms,
                     float("nan") if ms is None else ms_ssim_db(base_ms) - ms_ssim_db(ms)))
    t = torch.tensor(rows, dtype=torch.float64)
    return {"psnr_loss": t[:, 0], "ms_ssim_loss": t[:, 1], "ms_ssim_db_loss": t[:, 2]}
