"""Variable quantization controller (Sec. 3.3, Fig. 2 right).

Channel importance w (predefined w_c = c, SE-based or reconstruction-error-based) -> sort channels by
ascending importance -> split into G groups by the ratios r -> quantize each group with its own GMM
quantizer of q_g levels -> merge and restore the channel order.
"""

from __future__ import annotations

import torch
from torch import nn

from .gmm import GMMQuantizer
from .presets import Preset


class SEImportance(nn.Module):
    """Squeeze-and-excitation importance: average pool and two 1x1 convs give an M x C matrix (Sec. 3.3)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        hidden = max(2, channels // 4)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        s = z.mean(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))  # (M, C, 1, 1)


class VariableQuantizationController(nn.Module):
    def __init__(self, preset: Preset) -> None:
        super().__init__()
        self.preset = preset
        self.group_channels = preset.group_channels
        self.quantizers = nn.ModuleList(GMMQuantizer(q) for q in preset.levels)
        c = preset.latent_channels
        self.se = SEImportance(c) if preset.importance == "se" else None
        # Reconstruction-error importance of Eq. 6, measured on held-out training images by the trainer.
        self.register_buffer("re_importance", torch.arange(c, dtype=torch.float32))

    @property
    def image_dependent_order(self) -> bool:
        """True when the channel order depends on the image and must travel in the bitstream."""
        return self.preset.importance == "se"

    def weigh(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (z, importance vector w of length C). SE also rescales z by its attention."""
        kind = self.preset.importance
        if kind == "se":
            att = self.se(z)
            return z * att, att.detach().float().mean(dim=(0, 2, 3))
        if kind == "re":
            return z, self.re_importance
        return z, torch.arange(z.shape[1], dtype=torch.float32, device=z.device)  # w_c = c

    def order(self, w: torch.Tensor) -> torch.Tensor:
        """Permutation sorting channels by ascending importance (stable, so ties keep channel order)."""
        return torch.sort(w.float().cpu(), stable=True).indices

    def fixed_order(self) -> torch.Tensor:
        """The channel order of the image-independent importance types (predefined, RE)."""
        if self.image_dependent_order:
            raise ValueError("SE importance orders channels per image")
        c = self.preset.latent_channels
        w = self.re_importance if self.preset.importance == "re" else torch.arange(c, dtype=torch.float32)
        return self.order(w)

    def split(self, z: torch.Tensor, perm: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(z[:, perm.to(z.device)], self.group_channels, dim=1))

    def merge(self, groups: list[torch.Tensor], perm: torch.Tensor) -> torch.Tensor:
        z_sorted = torch.cat(groups, dim=1)
        inverse = torch.argsort(perm).to(z_sorted.device)
        return z_sorted[:, inverse]

    def forward(self, z: torch.Tensor):
        """Quantize Z. Returns (z_hat, per-group z_hat, per-group symbols, mean GMM NLL, permutation)."""
        z, w = self.weigh(z)
        perm = self.order(w)
        groups_hat, groups_sym, nlls = [], [], []
        for q, g in zip(self.quantizers, self.split(z, perm)):
            g_hat, g_sym, nll = q(g)
            groups_hat.append(g_hat)
            groups_sym.append(g_sym)
            nlls.append(nll)
        z_hat = self.merge(groups_hat, perm)
        return z_hat, groups_hat, groups_sym, torch.stack(nlls).mean(), perm

    def quantize_symbols(self, z: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Encoder side of coding: weigh -> order -> split -> each group's symbols (Eq. 3).
        Returns (symbols of every group, (M, C_g, h, w) int64; the channel permutation)."""
        z, w = self.weigh(z)
        perm = self.order(w)
        return [q.symbols(g) for q, g in zip(self.quantizers, self.split(z, perm))], perm

    def dequantize_groups(self, groups_sym: list[torch.Tensor]) -> list[torch.Tensor]:
        """Symbols of every group -> each group's quantized values z_hat_g (the GMM means)."""
        return [q.dequantize(s) for q, s in zip(self.quantizers, groups_sym)]

    def dequantize(self, groups_sym: list[torch.Tensor], perm: torch.Tensor) -> torch.Tensor:
        """Symbols of every group -> merged z_hat in the original channel order (decoder side)."""
        return self.merge(self.dequantize_groups(groups_sym), perm)

    @property
    def levels(self) -> list[int]:
        """Quantization levels q_g of every group."""
        return [q.levels for q in self.quantizers]
