"""3D context model (Mentzer et al., CVPR 2018), one per channel group (Sec. 3.3).

A group's quantized volume V[c, h, w] (channels as depth) goes through masked 3x3x3 convolutions in
raster order over (c, h, w): the first layer (mask "A") sees only positions strictly before the centre,
later layers (mask "B") also the centre. The output is a distribution over the group's q_g levels for
every symbol; its cross-entropy is L_ent of Eq. 8.

The model is shipped as an integer network (:mod:`cvqncodec.fixed_point`): training runs dense masked
``conv3d`` with the integer quantization simulated (straight-through), and coding evaluates the stored
integer tables exactly, so the CDFs do not depend on evaluation order, threads or device.
:class:`ExactContextEvaluator` evaluates them either layer by layer over all positions (the encoder,
which knows every symbol) or wavefront by wavefront (the decoder): with t = 4c + 2h + w every A-tap
lowers t by at least 1 and every B-tap by at least 0, so all positions sharing one t can be decoded
together. Both give the same integers.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import fixed_point as fp

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
    """Masked 3x3x3 convolution; holds its integer tables (W_int, b_int, shift) as buffers."""

    def __init__(self, cin: int, cout: int, mask_type: str) -> None:
        super().__init__(cin, cout, 3, padding=1)
        self.mask_type = mask_type
        self.offsets = causal_offsets(mask_type)
        mask = torch.zeros(1, 1, 3, 3, 3)
        for dc, dh, dw in self.offsets:
            mask[0, 0, dc + 1, dh + 1, dw + 1] = 1.0
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("int_weight", torch.zeros(cout, cin, 3, 3, 3, dtype=torch.int32))
        self.register_buffer("int_bias", torch.zeros(cout, dtype=torch.int64))
        self.register_buffer("int_shift", torch.zeros(cout, dtype=torch.int32))

    def masked_weight(self) -> torch.Tensor:
        return self.weight * self.mask.to(self.weight.dtype)

    def forward(self, x: torch.Tensor, simulate_integer: bool = True) -> torch.Tensor:
        """Dense pass, by default with the integer network's weight and bias quantization simulated."""
        w = self.masked_weight()
        if not simulate_integer:
            return F.conv3d(x, w, self.bias, padding=1)
        return F.conv3d(x, *fp.fake_quant_layer(w, self.bias), padding=1)

    def build_integer_tables(self, last: bool) -> None:
        w_int, b_int, shift = fp.integer_layer(self.masked_weight(), self.bias, last)
        self.int_weight.copy_(w_int)
        self.int_bias.copy_(b_int)
        self.int_shift.copy_(shift)

    def tap_matrix(self) -> torch.Tensor:
        """Integer weights of the kept taps as a (taps * Cin, Cout) float64 matrix (gather-GEMM)."""
        w = self.int_weight.to(torch.float64)
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
            for _ in range(blocks)
        )
        self.last = MaskedConv3d(filters, levels, "B")
        self.register_buffer("input_table", torch.zeros(levels, dtype=torch.int64))
        self.register_buffer("exp_table", torch.zeros(fp.EXP_TABLE_SIZE, dtype=torch.int64))

    def convs(self) -> list[MaskedConv3d]:
        return [self.first, *[c for blk in self.blocks for c in blk], self.last]

    def forward(self, volume: torch.Tensor, simulate_integer: bool = True) -> torch.Tensor:
        """Values z-hat of shape (N, C_g, H, W) -> logits of shape (N, q_g, C_g, H, W), float32.

        Simulates the integer network (inputs, weights, activations and logits on its grids), outside
        autocast: probabilities stay in float32. ``simulate_integer=False`` gives the plain float network
        (only for measuring what the integer network costs).
        """

        def act(x: torch.Tensor, relu: bool) -> torch.Tensor:
            if simulate_integer:
                return fp.fake_quant_activation(x, relu)
            return F.relu(x) if relu else x

        with torch.autocast(device_type=volume.device.type, enabled=False):
            si = simulate_integer
            x = act(self.first(act(volume.float().unsqueeze(1), relu=False), si), relu=True)
            for conv_a, conv_b in self.blocks:
                x = act(x + act(conv_b(act(conv_a(x, si), relu=True), si), relu=False), relu=False)
            logits = self.last(x, si)
            return fp.fake_quant_logits(logits) if si else logits

    def cross_entropy_bits(self, volume: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        """Mean bits per symbol (L_ent of Eq. 8)."""
        return F.cross_entropy(self(volume), symbols) / torch.log(torch.tensor(2.0))

    def bits_per_symbol(self, volume: torch.Tensor, symbols: torch.Tensor) -> torch.Tensor:
        """Bits of every symbol, shape (N, C_g, H, W) (used for per-channel rate analysis)."""
        return F.cross_entropy(self(volume), symbols, reduction="none") / torch.log(torch.tensor(2.0))

    @torch.no_grad()
    def build_integer_tables(self, mu: torch.Tensor) -> None:
        """Quantize the trained network into the integer tables coding uses (done once, at export)."""
        convs = self.convs()
        for i, conv in enumerate(convs):
            conv.build_integer_tables(last=i == len(convs) - 1)
        self.input_table.copy_(fp.input_table(mu))
        self.exp_table.copy_(fp.exp_table())

    def has_integer_tables(self) -> bool:
        return int(self.exp_table[0]) == 1 << fp.CDF_PRECISION


#: provide(start, end, cdf_prefix) -> symbols of coding positions start..end-1 (int64, shape (end-start,)).
SymbolSource = Callable[[int, int, torch.Tensor], torch.Tensor]


class ExactContextEvaluator:
    """Evaluates a :class:`ContextModel`'s integer tables exactly (float64 GEMMs of bounded integers).

    Positions live in a zero-padded volume; each layer's output is an int32 buffer over it, filled
    position set by position set. Any split into position sets that respects causality gives the same
    integers, on any device and with any thread count.
    """

    def __init__(self, model: ContextModel, device: torch.device | str = "cpu") -> None:
        if not model.has_integer_tables():
            raise ValueError("the context model has no integer tables (build them at export)")
        self.device = torch.device(device)
        self.levels = model.levels
        self.input_table = model.input_table.to(self.device)
        self.exp_table = model.exp_table.to(self.device)
        self.layers = [
            (
                conv.offsets,
                conv.tap_matrix().to(self.device),
                conv.int_bias.double().to(self.device),
                fp.inverse_scales(conv.int_shift, self.device),
            )
            for conv in model.convs()
        ]
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

    # ------------------------------------------------------------------------------------ internals
    def _volume(self, shape: tuple[int, int, int]):
        cg, h, w = shape
        pc, ph, pw = cg + 2, h + 2, w + 2  # one voxel of zero padding on every side
        order, sizes = self.coding_order(shape)
        c_i, rest = order // (h * w), order % (h * w)
        h_i, w_i = rest // w, rest % w
        padded_pos = (((c_i + 1) * ph + (h_i + 1)) * pw + (w_i + 1)).to(self.device)
        taps = [
            torch.tensor([(dc * ph + dh) * pw + dw for dc, dh, dw in offsets], device=self.device)
            for offsets, _, _, _ in self.layers
        ]
        nvox = pc * ph * pw
        values = torch.zeros(nvox, 1, dtype=torch.int32, device=self.device)
        # One int32 activation buffer per layer output that a later layer gathers from.
        buffers = [
            torch.zeros(nvox, self.filters, dtype=torch.int32, device=self.device) for _ in range(1 + 2 * self.blocks)
        ]
        return order, sizes, padded_pos, taps, values, buffers

    def _layer(self, i: int, taps: list[torch.Tensor], source: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """Accumulate layer i at ``pos`` and re-quantize: float64 holding exact integers."""
        _, matrix, bias, inv_scale = self.layers[i]
        gathered = source[pos[:, None] + taps[i][None, :]].to(torch.float64)  # (n, taps, Cin)
        acc = torch.addmm(bias, gathered.reshape(pos.numel(), -1), matrix)
        return fp.requantize(acc, inv_scale)

    def _hidden(self, i: int, taps, source, pos, relu: bool, residual: torch.Tensor | None = None):
        out = self._layer(i, taps, source, pos)
        if residual is not None:
            out = out + residual[pos].to(torch.float64)
        return out.clamp(0 if relu else -fp.ACT_LIMIT, fp.ACT_LIMIT).to(torch.int32)

    def _hidden_plan(self, values: torch.Tensor, buffers: list[torch.Tensor]) -> list[tuple]:
        """(layer, source, residual, relu, output) of every hidden layer, in order: the network's
        topology, shared by the encoder's and the decoder's passes."""
        plan = [(0, values, None, True, buffers[0])]
        for b in range(self.blocks):
            plan += [
                (1 + 2 * b, buffers[2 * b], None, True, buffers[2 * b + 1]),
                (2 + 2 * b, buffers[2 * b + 1], buffers[2 * b], False, buffers[2 * b + 2]),
            ]
        return plan

    def _cdfs(self, taps, buffers: list[torch.Tensor], pos: torch.Tensor) -> torch.Tensor:
        """The last layer's integer logits at ``pos`` -> int16 CDFs."""
        logits = self._layer(len(self.layers) - 1, taps, buffers[2 * self.blocks], pos).to(torch.int64)
        return fp.logits_to_cdf(logits, self.exp_table)

    # ------------------------------------------------------------------------------------ coding
    def all_cdfs(self, symbols: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
        """Encoder side: every position's int16 CDF in coding order, from the known symbols (C_g, H, W).

        Layer by layer over all positions, ``chunk`` positions per GEMM: the chunking changes nothing.
        """
        shape = tuple(symbols.shape)
        order, _, padded_pos, taps, values, buffers = self._volume(shape)
        sym = symbols.reshape(-1)[order].to(self.device)
        values[padded_pos, 0] = self.input_table[sym].to(torch.int32)
        n_total = order.numel()
        cdf = torch.empty(n_total, self.levels + 1, dtype=torch.int16)
        chunks = [padded_pos[a : a + chunk] for a in range(0, n_total, chunk)]
        with torch.no_grad():
            for layer, source, residual, relu, output in self._hidden_plan(values, buffers):
                for pos in chunks:
                    output[pos] = self._hidden(layer, taps, source, pos, relu, residual)
            for a, pos in zip(range(0, n_total, chunk), chunks):
                cdf[a : a + chunk] = self._cdfs(taps, buffers, pos)
        return cdf

    def run(self, shape: tuple[int, int, int], provide: SymbolSource) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder side: compute CDFs wavefront by wavefront; ``provide`` returns each step's symbols.

        Returns (symbols in raster order with the given shape, int16 CDFs in coding order (N, q+1)).
        """
        order, sizes, padded_pos, taps, values, buffers = self._volume(shape)
        plan = self._hidden_plan(values, buffers)
        n_total = order.numel()
        cdf = torch.empty(n_total, self.levels + 1, dtype=torch.int16)
        symbols_coded = torch.empty(n_total, dtype=torch.int64)
        start = 0
        with torch.no_grad():
            for n in sizes.tolist():
                pos = padded_pos[start : start + n]
                for layer, source, residual, relu, output in plan:
                    output[pos] = self._hidden(layer, taps, source, pos, relu, residual)
                cdf[start : start + n] = self._cdfs(taps, buffers, pos)
                sym = provide(start, start + n, cdf[: start + n])
                if sym.shape != (n,):
                    raise ValueError("symbol source returned the wrong number of symbols")
                symbols_coded[start : start + n] = sym
                values[pos, 0] = self.input_table[sym.to(self.device)].to(torch.int32)
                start += n
        symbols = torch.empty(n_total, dtype=torch.int64)
        symbols[order] = symbols_coded
        return symbols.reshape(shape), cdf
