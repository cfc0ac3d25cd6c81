"""GMM quantizer (Sec. 3.2, Eq. 2-5).

The prior of a latent value is a mixture of Q Gaussians with learnable pi, mu, sigma (Eq. 2). The hard
forward pass maps z to the mean with the largest responsibility (Eq. 3); the backward pass uses the
responsibility-weighted mean (Eq. 4) through the straight-through form; Eq. 5 is the training NLL.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class GMMQuantizer(nn.Module):
    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        half = (levels - 1) / 2
        self.mu = nn.Parameter(torch.linspace(-half, half, levels))  # evenly around 0
        self.log_sigma = nn.Parameter(torch.full((levels,), math.log(0.5)))
        self.pi_logits = nn.Parameter(torch.zeros(levels))

    def log_joint(self, z: torch.Tensor) -> torch.Tensor:
        """log(pi_q N(z | mu_q, sigma_q^2)) for every level q, in a new last dimension."""
        z = z.float().unsqueeze(-1)
        log_pi = torch.log_softmax(self.pi_logits, dim=0)
        sigma = self.log_sigma.exp()
        return log_pi - self.log_sigma - 0.5 * math.log(2 * math.pi) - 0.5 * ((z - self.mu) / sigma) ** 2

    def symbols(self, z: torch.Tensor) -> torch.Tensor:
        """Index of the component with the largest responsibility (Eq. 3), as int64."""
        return self.log_joint(z).argmax(dim=-1)

    def dequantize(self, symbols: torch.Tensor) -> torch.Tensor:
        """The mean mu of each symbol's component: the quantized value z-hat."""
        return self.mu.detach()[symbols]

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (z_hat with straight-through gradient of Eq. 4, symbols, mean NLL of Eq. 5)."""
        log_joint = self.log_joint(z)
        resp = torch.softmax(log_joint, dim=-1)
        z_soft = (resp * self.mu).sum(-1)
        symbols = log_joint.argmax(dim=-1)
        z_hard = self.mu[symbols]
        z_hat = z_hard + (z_soft - z_soft.detach())  # value exactly z_hard, gradient of Eq. 4
        nll = -torch.logsumexp(log_joint, dim=-1).mean()
        return z_hat, symbols, nll
