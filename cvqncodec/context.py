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
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from . import fixed_point as fp
from .container import LATENT_TILE, Box, tile_runs

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


def _autocast_is_bf16(device_type: str) -> bool:
    return torch.get_autocast_dtype(device_type) == torch.bfloat16


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

    def forward(self, volume: torch.Tensor, simulate_integer: bool = True, bf16: bool = False) -> torch.Tensor:
        """Values z-hat of shape (N, C_g, H, W) -> logits of shape (N, q_g, C_g, H, W), float32.

        Simulates the integer network (inputs, weights, activations and logits on its grids), outside any
        outer autocast: probabilities stay in float32. ``simulate_integer=False`` gives the plain float network.
        ``bf16`` (and an enclosing bf16 autocast, as in training) runs the convolutions in bf16, everything
        between them in float32: where the hardware has bf16 kernels that is 40x faster than float32 ``conv3d``,
        which is on a slow path on CPUs (bench/RESULTS.md), and the estimate stays within 0.01 %.
        """
        si = simulate_integer
        bf16 = bf16 or (torch.is_autocast_enabled(volume.device.type) and _autocast_is_bf16(volume.device.type))

        def act(x: torch.Tensor, relu: bool) -> torch.Tensor:
            if si:
                return fp.fake_quant_activation(x, relu)
            return F.relu(x) if relu else x

        def conv(layer: MaskedConv3d, x: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device_type=volume.device.type, dtype=torch.bfloat16, enabled=bf16):
                return layer(x, si).float()

        with torch.autocast(device_type=volume.device.type, enabled=False):
            x = act(conv(self.first, act(volume.float().unsqueeze(1), relu=False)), relu=True)
            for conv_a, conv_b in self.blocks:
                x = act(x + act(conv(conv_b, act(conv(conv_a, x), relu=True)), relu=False), relu=False)
            logits = conv(self.last, x)
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


#: provide(run, start, end, cdf_run) -> symbols of the run's coding positions start..end-1 (int64, shape
#: (end - start,)); ``cdf_run`` holds the run's CDF rows 0..end-1 in its coding order.
SymbolSource = Callable[[int, int, int, torch.Tensor], torch.Tensor]


@lru_cache(maxsize=32)
def tile_order(shape: tuple[int, int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Raster indices of a (C_g, h, w) tile sorted by wavefront t (ties in raster order), and the size of
    each non-empty wavefront."""
    cg, h, w = shape
    c_i, h_i, w_i = torch.meshgrid(torch.arange(cg), torch.arange(h), torch.arange(w), indexing="ij")
    t = wavefront_index(c_i, h_i, w_i).reshape(-1)
    order = torch.sort(t, stable=True).indices
    sizes = torch.unique_consecutive(t[order], return_counts=True)[1]
    return order, sizes


class _Run:
    """One run of tiles of a group's (C_g, H, W) volume (:func:`cvqncodec.container.tile_runs`): each tile
    sits in its own zero-padded block of a shared buffer, so its context stops at its border.

    Positions are listed in the run's coding order: by wavefront t (tile coordinates), then tile, then raster
    order within the tile. ``raster``: index into the volume; ``padded``: voxel in the buffer; ``sizes``: the
    number of positions on each non-empty wavefront.
    """

    def __init__(self, shape: tuple[int, int, int], boxes: list[Box], device: torch.device) -> None:
        cg, height, width = shape
        self.ph = max(b[1] - b[0] for b in boxes) + 2
        self.pw = max(b[3] - b[2] for b in boxes) + 2
        self.voxels = len(boxes) * (cg + 2) * self.ph * self.pw
        raster, padded, wave = [], [], []
        for k, (h0, h1, w0, w1) in enumerate(boxes):
            th, tw = h1 - h0, w1 - w0
            order, _ = tile_order((cg, th, tw))
            c_i, rest = order // (th * tw), order % (th * tw)
            h_i, w_i = rest // tw, rest % tw
            raster.append((c_i * height + h0 + h_i) * width + w0 + w_i)
            padded.append(k * (cg + 2) * self.ph * self.pw + ((c_i + 1) * self.ph + h_i + 1) * self.pw + w_i + 1)
            wave.append(wavefront_index(c_i, h_i, w_i))
        t = torch.cat(wave)
        by_wave = torch.sort(t, stable=True).indices  # tiles in order within a wavefront
        self.raster = torch.cat(raster)[by_wave]
        self.padded = torch.cat(padded)[by_wave].to(device)
        self.sizes = torch.unique_consecutive(t[by_wave], return_counts=True)[1]


class ExactContextEvaluator:
    """Evaluates a :class:`ContextModel`'s integer tables exactly (float64 GEMMs of bounded integers).

    Positions live in a zero-padded volume per tile; each layer's output is an int32 buffer over it, filled
    position set by position set. Any split into position sets that respects causality gives the same
    integers, on any device and with any thread count. ``tile`` is the side of the independently coded latent
    tiles (format 4) or None for one tile covering the volume (formats 2 and 3).
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
    def coding_order(
        shape: tuple[int, int, int], tile: int | None = LATENT_TILE
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Raster indices of the (C_g, H, W) volume in coding order (run after run of tiles, each run by
        wavefront t, then tile, then raster order), and every run's wavefront sizes."""
        runs = [_Run(shape, boxes, torch.device("cpu")) for boxes in tile_runs(*shape, tile)]
        return torch.cat([r.raster for r in runs]), [r.sizes for r in runs]

    # ------------------------------------------------------------------------------------ internals
    def _buffers(self, batch: _Run) -> tuple[list[torch.Tensor], torch.Tensor, list[torch.Tensor]]:
        """(tap offsets per layer, input buffer, one int32 activation buffer per layer output that a later
        layer gathers from), all zero: the padding and the positions not yet evaluated."""
        taps = [
            torch.tensor([(dc * batch.ph + dh) * batch.pw + dw for dc, dh, dw in offsets], device=self.device)
            for offsets, _, _, _ in self.layers
        ]
        values = torch.zeros(batch.voxels, 1, dtype=torch.int32, device=self.device)
        buffers = [
            torch.zeros(batch.voxels, self.filters, dtype=torch.int32, device=self.device)
            for _ in range(1 + 2 * self.blocks)
        ]
        return taps, values, buffers

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
    def all_cdfs(self, symbols: torch.Tensor, tile: int | None = LATENT_TILE, chunk: int = 1 << 12) -> torch.Tensor:
        """Encoder side: every position's int16 CDF in coding order, from the known symbols (C_g, H, W)."""
        return self.cdfs_in_order(symbols, tile, chunk)[1]

    def cdfs_in_order(
        self, symbols: torch.Tensor, tile: int | None = LATENT_TILE, chunk: int = 1 << 12
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(:meth:`coding_order`'s raster indices, :meth:`all_cdfs`) from one pass over the runs.

        Layer by layer over all positions of a run, ``chunk`` positions per GEMM: the chunking changes nothing
        but the speed (4096: the gathered taps stay in cache, 2-2.5x faster than 65536, bench/RESULTS.md).
        """
        shape = tuple(symbols.shape)
        flat = symbols.reshape(-1)
        cdf = torch.empty(flat.numel(), self.levels + 1, dtype=torch.int16)
        order = torch.empty(flat.numel(), dtype=torch.int64)
        done = 0
        with torch.no_grad():
            for boxes in tile_runs(*shape, tile):
                run = _Run(shape, boxes, self.device)
                order[done : done + run.raster.numel()] = run.raster
                taps, values, buffers = self._buffers(run)
                values[run.padded, 0] = self.input_table[flat[run.raster].to(self.device)].to(torch.int32)
                n = run.raster.numel()
                chunks = [run.padded[a : a + chunk] for a in range(0, n, chunk)]
                for layer, source, residual, relu, output in self._hidden_plan(values, buffers):
                    for pos in chunks:
                        output[pos] = self._hidden(layer, taps, source, pos, relu, residual)
                for a, pos in zip(range(0, n, chunk), chunks):
                    cdf[done + a : done + a + pos.numel()] = self._cdfs(taps, buffers, pos)
                done += n
        return order, cdf

    def run(
        self, shape: tuple[int, int, int], provide: SymbolSource, tile: int | None = LATENT_TILE
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder side: compute CDFs wavefront by wavefront (all tiles of a run side by side); ``provide``
        returns each step's symbols.

        Returns (symbols in raster order with the given shape, int16 CDFs in coding order (N, q+1)).
        """
        n_total = shape[0] * shape[1] * shape[2]
        cdf = torch.empty(n_total, self.levels + 1, dtype=torch.int16)
        symbols = torch.empty(n_total, dtype=torch.int64)
        done = 0
        with torch.no_grad():
            for k, boxes in enumerate(tile_runs(*shape, tile)):
                run = _Run(shape, boxes, self.device)
                n = run.raster.numel()
                run_cdf, run_symbols = cdf[done : done + n], torch.empty(n, dtype=torch.int64)
                taps, values, buffers = self._buffers(run)
                plan = self._hidden_plan(values, buffers)
                start = 0
                for size in run.sizes.tolist():
                    pos = run.padded[start : start + size]
                    for layer, source, residual, relu, output in plan:
                        output[pos] = self._hidden(layer, taps, source, pos, relu, residual)
                    run_cdf[start : start + size] = self._cdfs(taps, buffers, pos)
                    sym = provide(k, start, start + size, run_cdf[: start + size])
                    if sym.shape != (size,):
                        raise ValueError("symbol source returned the wrong number of symbols")
                    run_symbols[start : start + size] = sym
                    values[pos, 0] = self.input_table[sym.to(self.device)].to(torch.int32)
                    start += size
                symbols[run.raster] = run_symbols
                done += n
        return symbols.reshape(shape), cdf
