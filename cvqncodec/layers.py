"""Building blocks of the channel-attention residual encoder/decoder (Sec. 3.1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv3x3(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel attention (Hu et al. 2018) as used in RCAN's RCAB."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze = nn.Conv2d(channels, hidden, 1)
        self.excite = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x.mean(dim=(2, 3), keepdim=True)
        w = torch.sigmoid(self.excite(F.relu(self.squeeze(w))))
        return x * w


class RCAB(nn.Module):
    """Residual channel attention block: conv-ReLU-conv, channel attention, identity skip."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv3x3(channels, channels),
            nn.ReLU(inplace=True),
            conv3x3(channels, channels),
            ChannelAttention(channels, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """B RCABs and a closing conv with a long skip; keeps the channel count (Sec. 3.1)."""

    def __init__(self, channels: int, blocks: int, reduction: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*[RCAB(channels, reduction) for _ in range(blocks)], conv3x3(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al. 2016); ``inverse`` gives IGDN.

    y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2), with beta and gamma kept non-negative.
    """

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.inverse = inverse
        self.beta = nn.Parameter(torch.ones(channels))
        self.gamma = nn.Parameter(0.1 * torch.eye(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(min=1e-6)
        gamma = self.gamma.clamp(min=0.0)
        c = x.shape[1]
        norm = F.conv2d(x * x, gamma.view(c, c, 1, 1), beta)
        norm = torch.sqrt(norm.clamp(min=1e-9))
        return x * norm if self.inverse else x / norm
