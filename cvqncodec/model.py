"""The CVQN model (Fig. 2): encoder -> variable quantization controller -> context models -> decoder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .context import ContextModel
from .controller import VariableQuantizationController
from .presets import DOWNSAMPLING, Preset
from .tiling import DEFAULT_TILING, Tiling, analyse, synthesise
from .transforms import Decoder, Encoder


@dataclass
class TrainingOutput:
    x_hat: torch.Tensor
    #: Mean bits per symbol of each group under its context model (L_ent,g of Eq. 8).
    group_bits: list[torch.Tensor]
    #: Mean GMM negative log-likelihood over groups (the L_GMM term of Eq. 8, per value).
    gmm_nll: torch.Tensor
    #: Estimated bits per pixel of the latent under the context models.
    bpp: torch.Tensor


@dataclass
class QuantizedLatent:
    """What the bitstream carries: each group's symbols (C_g, h, w) and the channel permutation."""

    groups: list[torch.Tensor]
    permutation: torch.Tensor


class CVQN(nn.Module):
    def __init__(self, preset: Preset) -> None:
        super().__init__()
        self.preset = preset
        self.encoder = Encoder(preset)
        self.controller = VariableQuantizationController(preset)
        self.context_models = nn.ModuleList(
            ContextModel(q, preset.context_filters, preset.context_blocks) for q in preset.levels
        )
        self.decoder = Decoder(preset)

    # ----------------------------------------------------------------------------------- training
    def forward(self, x: torch.Tensor) -> TrainingOutput:
        """x: (N, 3, H, W) in [0, 1] with H, W multiples of 16."""
        z = self.encoder(x)
        z_hat, groups_hat, groups_sym, nll, _ = self.controller(z.float())
        bits = [cm.cross_entropy_bits(g, s) for cm, g, s in zip(self.context_models, groups_hat, groups_sym)]
        x_hat = self.decoder(z_hat)
        return TrainingOutput(x_hat, bits, nll, latent_bpp(torch.stack(bits), self.controller.group_channels))

    # ------------------------------------------------------------------------------------- coding
    @torch.no_grad()
    def quantize(self, x: torch.Tensor, tiling: Tiling = DEFAULT_TILING) -> QuantizedLatent:
        """One padded image (1, 3, H, W) -> symbols of every group (Eq. 3) and the channel order."""
        if x.shape[0] != 1:
            raise ValueError("quantize expects a single image")
        return self.quantize_latent(analyse(self.encoder, x, self.preset.latent_channels, tiling))

    @torch.no_grad()
    def quantize_latent(self, z: torch.Tensor) -> QuantizedLatent:
        """Encoder output Z (1, C, h, w) -> symbols of every group (Eq. 3) and the channel order."""
        groups, perm = self.controller.quantize_symbols(z)
        return QuantizedLatent([g[0].cpu() for g in groups], perm)

    @torch.no_grad()
    def reconstruct(
        self, latent: QuantizedLatent, device: torch.device | str = "cpu", tiling: Tiling = DEFAULT_TILING
    ) -> torch.Tensor:
        """Symbols -> decoded image (1, 3, H, W), clamped to [0, 1]."""
        groups = [s.to(device).unsqueeze(0) for s in latent.groups]
        z_hat = self.controller.dequantize(groups, latent.permutation)
        return synthesise(self.decoder, z_hat, tiling).clamp_(0.0, 1.0)

    def encoder_modules(self) -> list[nn.Module]:
        """The modules only the encoder runs: the analysis transform and the SE importance net, if any (their
        tensors are what weights.ENCODER_PREFIXES leaves out of the weights id)."""
        se = self.controller.se
        return [self.encoder] if se is None else [self.encoder, se]

    @torch.no_grad()
    def build_integer_tables(self) -> None:
        """Quantize every context model into the integer tables that coding uses (at export)."""
        for cm, q in zip(self.context_models, self.controller.quantizers):
            cm.build_integer_tables(q.mu)

    def has_integer_tables(self) -> bool:
        return all(cm.has_integer_tables() for cm in self.context_models)


def latent_bpp(bits_per_symbol: torch.Tensor, group_channels: Sequence[int]) -> torch.Tensor:
    """Bits per pixel of the latent from each group's mean bits per symbol: sum_g bits_g C_g / 16^2."""
    channels = torch.tensor(list(group_channels), dtype=torch.float32, device=bits_per_symbol.device)
    return (bits_per_symbol * channels).sum() / DOWNSAMPLING**2


def pad_to_multiple(x: torch.Tensor, multiple: int = DOWNSAMPLING) -> torch.Tensor:
    """Replicate-pad (N, C, H, W) on the bottom and right to multiples of ``multiple``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
