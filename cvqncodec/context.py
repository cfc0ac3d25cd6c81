"""3D context model (Mentzer et al., CVPR 2018), one per channel group (Sec. 3.3).

A group's quantized volume V[c, h, w] (channels as depth) goes through masked 3x3x3 convolutions in
raster order over (c, h, w): the first layer (mask "A") sees only positions strictly before the centre,
later layers (mask "B") also the centre. The output is a distribution over the group's q_g levels for
every symbol; its cross-entropy is L_ent of Eq. 8.

Training uses dense masked ``conv3d``. Coding uses :class:`WavefrontEvaluator`, which evaluates the
same network position set by position set: with t = 4c + 2h + w every A-tap lowers t by at least 1 and
every B-tap by at least 0, so all positions sharing one t can be decoded together, and only the
non-zero taps are gathered. Encoder and decoder both call :meth:`WavefrontEvaluator.run` with the same
shapes in the same order, single-threaded, so they compute bit-identical probabilities.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn
import torch.nn.functional as F

KERNEL_OFFSETS = [(dc, dh, dw) for dc in (-1, 0, 1) for dh in (-1, 0, 1) for dw in (-1, 0, 1)]


def causal_offsets(mask_type: str) -> list[tuple[int, int, int]]:
    """Tap offsets (dc, dh, dw) a masked 3x3x3 kernel keeps, in raster order over (c, h, w)."""
    keep = [o for o in KERNEL_OFFSETS if o < (0, 0, 0)]  # tuple order == raster order
    if mask_type == "B":
        keep.append((0, 0, 0))
    elif mask_type != "A":
        raise ValueError(mask_type)
    return keep


def wavefront_index(c: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """t = 4c + 2h + w: every causal tap strictly lowers t for mask A, and never raises it for mask B."""
    return 4 * c + 2 * h + w


class MaskedConv3d(nn.Conv3d):
    def __init__(self, cin: int, cout: int, mask_type: str) -> None:
        super().__init__(cin, cout, 3, padding=1)
        self.mask_type = mask_type
        self.offsets = causal_offsets(mask_type)
        mask = torch.zeros(1, 1, 3, 3, 3)
        for dc, dh, dw in self.offsets:
            mask[0, 0, dc + 1, dh + 1, dw + 1] = 1.0
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, self.weight * self.mask.to(self.weight.dtype), self.bias, padding=1)

    def tap_matrix(self) -> torch.Tensor:
        """Weights of the kept taps as a (taps * Cin, Cout) float32 matrix for gather-GEMM evaluation."""
        w = self.weight.detach().float().cpu()
        taps = [w[:, :, dc + 1, dh + 1, dw + 1].t() for dc, dh, dw in self.offsets]  # (Cin, Cout) each
        return torch.cat(taps, dim=0).contiguous()


class ContextModel(nn.Module):
    """Masked 3D CNN: conv A -> ReLU -> residual blocks of (conv B, ReLU, conv B) -> conv B to logits."""

    def __init__(self, levels: int, filters: int, blocks: int) -> None:
        super().__init__()
        self.levels = levels
        self.first = MaskedConv3d(1, filters, "A")
        self.blocks = nn.ModuleList(
            nn.ModuleList([MaskedConv3d(filters, filters, "B"), MaskedConv3d(filters, filters, "B")])
            for _ in range(blocks))
        self.last = MaskedConv3d(filters, levels, "B")

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        """Values z-hat of shape (N, C_g, H, W) -> logits of shape (N, q_g, C_g, H, W)."""
        x = F.relu(self.first(volume.unsqueeze(1)))
        for conv_a, conv_b in self.blocks:
            x = x + conv_b(F.relu(conv_a(x)))
        return self.last(x)

    def cross_entropy_bits(self, volume: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        """Mean bits per symbol (L_ent of Eq. 8), computed in float32 outside autocast."""
        logits = self(volume)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            return F.cross_entropy(logits.float(), symbols) / torch.log(torch.tensor(2.0))

    def bits_per_symbol(self, volume: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        """Bits of every symbol, shape (N, C_g, H, W) (used for per-channel rate analysis)."""
        logits = self(volume).float()
        return F.cross_entropy(logits, symbols, reduction="none") / torch.log(torch.tensor(2.0))


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the probability computation with one intra-op thread, whatever the caller's setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: provide(start, end, cdf_prefix) -> symbols of coding positions start..end-1 (int64, shape (end-start,)).
SymbolSource = Callable[[int, int, torch.Tensor], torch.Tensor]


class WavefrontEvaluator:
    """Evaluates a :class:`ContextModel` one wavefront (positions of equal t) at a time, on the CPU.

    ``mu`` maps symbols to the values the network sees (the group's GMM means).
    """

    def __init__(self, model: ContextModel, mu: torch.Tensor) -> None:
        self.levels = model.levels
        self.mu = mu.detach().float().cpu().contiguous()
        self.layers: list[tuple[list[tuple[int, int, int]], torch.Tensor, torch.Tensor]] = []
        for conv in [model.first, *[c for blk in model.blocks for c in blk], model.last]:
            self.layers.append((conv.offsets, conv.tap_matrix(), conv.bias.detach().float().cpu()))
        self.filters = model.first.out_channels
        self.blocks = len(model.blocks)

    @staticmethod
    def coding_order(shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Raster indices sorted by wavefront t (ties in raster order), and the size of each wavefront."""
        cg, h, w = shape
        c_i, h_i, w_i = torch.meshgrid(torch.arange(cg), torch.arange(h), torch.arange(w), indexing="ij")
        t = wavefront_index(c_i, h_i, w_i).reshape(-1)
        order = torch.sort(t, stable=True).indices
        sizes = torch.unique_consecutive(t[order], return_counts=True)[1]
        return order, sizes

    def run(self, shape: tuple[int, int, int], provide: SymbolSource) -> tuple[torch.Tensor, torch.Tensor]:
        """Compute every position's CDF wavefront by wavefront; ``provide`` returns each step's symbols.

        Returns (symbols in raster order with the given shape, int16 CDFs in coding order (N, q+1)).
        The encoder's ``provide`` looks symbols up, the decoder's decodes them: the CDFs come from
        this one routine on both sides.
        """
        from .entropy import probabilities_to_cdf  # numerics only; no torchac import

        cg, h, w = shape
        pc, ph, pw = cg + 2, h + 2, w + 2  # one voxel of zero padding on every side
        order, sizes = self.coding_order(shape)
        c_i, rest = order // (h * w), order % (h * w)
        h_i, w_i = rest // w, rest % w
        padded_pos = ((c_i + 1) * ph + (h_i + 1)) * pw + (w_i + 1)
        nvox = pc * ph * pw

        def flat(offsets: list[tuple[int, int, int]]) -> torch.Tensor:
            return torch.tensor([(dc * ph + dh) * pw + dw for dc, dh, dw in offsets])

        tap_index = [flat(offsets) for offsets, _, _ in self.layers]
        f = self.filters
        values = torch.zeros(nvox, 1)
        # One activation buffer per layer output that a later layer gathers from.
        buffers = [torch.zeros(nvox, f) for _ in range(1 + 2 * self.blocks)]
        n_total = order.numel()
        cdf = torch.empty(n_total, self.levels + 1, dtype=torch.int16)
        symbols_coded = torch.empty(n_total, dtype=torch.int64)

        def layer(i: int, source: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
            _, matrix, bias = self.layers[i]
            gathered = source[pos[:, None] + tap_index[i][None, :]]  # (n, taps, Cin)
            return torch.addmm(bias, gathered.reshape(pos.numel(), -1), matrix)

        start = 0
        with single_thread(), torch.no_grad():
            for n in sizes.tolist():
                pos = padded_pos[start:start + n]
                x = torch.relu(layer(0, values, pos))
                buffers[0][pos] = x
                for b in range(self.blocks):
                    hidden = torch.relu(layer(1 + 2 * b, buffers[2 * b], pos))
                    buffers[2 * b + 1][pos] = hidden
                    x = x + layer(2 + 2 * b, buffers[2 * b + 1], pos)
                    buffers[2 * b + 2][pos] = x
                logits = layer(len(self.layers) - 1, buffers[2 * self.blocks], pos)
                cdf[start:start + n] = probabilities_to_cdf(torch.softmax(logits, dim=1))
                sym = provide(start, start + n, cdf[:start + n])
                if sym.shape != (n,):
                    raise ValueError("symbol source returned the wrong number of symbols")
                symbols_coded[start:start + n] = sym
                values[pos, 0] = self.mu[sym]
                start += n
        symbols = torch.empty(n_total, dtype=torch.int64)
        symbols[order] = symbols_coded
        return symbols.reshape(shape), cdf
