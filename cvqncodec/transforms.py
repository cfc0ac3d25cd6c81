"""Channel-attention residual encoder and decoder (Sec. 3.1, Fig. 2 left).

Encoder: head conv -> four stages of [inverse PixelShuffle(2) (Eq. 1) -> residual group of B RCABs ->
conv to the next width] -> tail conv to C latent channels. The decoder mirrors it with PixelShuffle.
With ``preset.wide_groups`` the residual groups run at the 4x width right after the shuffle and GDN
follows each stage, as in the authors' code; otherwise a 1x1 conv first brings the width back down,
which is what makes the CPU presets cheap.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import GDN, ResidualGroup, conv3x3
from .presets import Preset


class EncoderStage(nn.Module):
    def __init__(self, cin: int, cout: int, preset: Preset) -> None:
        super().__init__()
        self.shuffle = nn.PixelUnshuffle(2)
        if preset.wide_groups:
            self.reduce = nn.Identity()
            body = 4 * cin
        else:
            self.reduce = nn.Conv2d(4 * cin, cin, 1)
            body = cin
        self.group = ResidualGroup(body, preset.blocks, preset.reduction)
        self.out = conv3x3(body, cout)
        self.norm = GDN(cout) if preset.gdn else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.out(self.group(self.reduce(self.shuffle(x)))))


class DecoderStage(nn.Module):
    def __init__(self, cin: int, cout: int, preset: Preset) -> None:
        super().__init__()
        self.norm = GDN(cin, inverse=True) if preset.gdn else nn.Identity()
        if preset.wide_groups:
            self.expand = conv3x3(cin, 4 * cout)
            self.group = ResidualGroup(4 * cout, preset.blocks, preset.reduction)
            self.out = nn.Identity()
        else:
            self.expand = nn.Identity()
            self.group = ResidualGroup(cin, preset.blocks, preset.reduction)
            self.out = conv3x3(cin, 4 * cout)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.out(self.group(self.expand(self.norm(x)))))


class Encoder(nn.Module):
    """Image (N, 3, H, W) in [0, 1] -> latent Z (N, C, H/16, W/16)."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        w = preset.widths
        self.head = conv3x3(3, w[0])
        outs = (w[1], w[2], w[3], w[3])
        self.stages = nn.Sequential(*[EncoderStage(w[i], outs[i], preset) for i in range(4)])
        self.tail = conv3x3(w[3], preset.latent_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.stages(self.head(x - 0.5)))


class Decoder(nn.Module):
    """Quantized latent (N, C, h, w) -> image (N, 3, 16h, 16w), not clamped."""

    def __init__(self, preset: Preset) -> None:
        super().__init__()
        w = preset.widths
        self.head = conv3x3(preset.latent_channels, w[3])
        ins = (w[3], w[3], w[2], w[1])
        outs = (w[3], w[2], w[1], w[0])
        self.stages = nn.Sequential(*[DecoderStage(ins[i], outs[i], preset) for i in range(4)])
        self.tail = conv3x3(w[0], 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.tail(self.stages(self.head(z))) + 0.5
