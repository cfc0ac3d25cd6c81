"""Exact integer arithmetic for the context model (Ballé, Johnston & Minnen, ICLR 2019).

The decoder must compute exactly the CDFs the encoder used. Floating-point results depend on the
order of the sums (shape, threads, BLAS, device), so the context model is evaluated as an *integer*
network whose every partial sum is an integer of magnitude < 2^53. Such sums are exact in float64 in
any order (and in int64), so CPU, GPU, 1 or 16 threads, wavefront or whole-volume evaluation all
give the same integers.

Fixed point, for every masked conv layer of the context model:

- activations a are integers meaning a / 2^ACT_FRAC, clamped to |a| <= ACT_LIMIT
  (ReLU outputs to [0, ACT_LIMIT]); the first layer's input is ``input_table[symbol]``;
- output channel o has weights W_int[o] = round(W[o] * 2^s_o) with |W_int| <= 2^(WEIGHT_BITS-1) - 1
  and bias b_int[o] = round(b[o] * 2^(ACT_FRAC + s_o)), so the accumulator y = W_int . a + b_int
  means value * 2^(ACT_FRAC + s_o);
- re-quantization: a' = floor(y * 2^-shift_o + 1/2) with shift_o = s_o for hidden layers and
  s_o + ACT_FRAC - LOGIT_FRAC for the last layer, whose outputs are logits in units of 2^-LOGIT_FRAC;
- logits -> CDF (:func:`logits_to_cdf`) goes through ``exp_table[d] = round(2^16 exp(-d / 2^LOGIT_FRAC))``
  and integer division only.

Bound: |y| <= (2^15 - 1) * fan_in * ACT_LIMIT + BIAS_LIMIT < 2^53 for fan_in < 2^17 (checked).
The tables are computed once, at export, and stored in the weights file; coding never rebuilds them.
Training simulates the same quantization (the ``fake_quant_*`` functions, straight-through rounding), so the
context models learn the integer network they are shipped as.
"""

from __future__ import annotations

import torch

ACT_FRAC = 10
ACT_LIMIT = (1 << 20) - 1
WEIGHT_BITS = 16
WEIGHT_LIMIT = (1 << (WEIGHT_BITS - 1)) - 1
MAX_SHIFT = 30
BIAS_LIMIT = 1 << 50
LOGIT_FRAC = 6
#: exp_table covers d = 0 .. EXP_TABLE_SIZE - 1, i.e. logit gaps up to 20 nats; larger gaps clamp.
EXP_TABLE_SIZE = 20 * (1 << LOGIT_FRAC) + 1
CDF_PRECISION = 16
MAX_FAN_IN = 1 << 17


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer forward, identity backward."""
    return x + (torch.round(x) - x).detach()


def weight_shifts(weight: torch.Tensor) -> torch.Tensor:
    """Per-output-channel s_o: the largest power-of-two scale keeping |W[o]| * 2^s_o within WEIGHT_LIMIT."""
    peak = weight.detach().abs().reshape(weight.shape[0], -1).amax(dim=1).double()
    shift = torch.floor(torch.log2(WEIGHT_LIMIT / peak.clamp(min=2.0**-MAX_SHIFT)))
    return shift.clamp(0, MAX_SHIFT).to(torch.int64)


def _scale(shift: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """2^shift per output channel, shaped to broadcast over ``like``'s output dimension (dim 0)."""
    s = torch.pow(2.0, shift.to(like.device, torch.float64)).to(like.dtype)
    return s.reshape(-1, *([1] * (like.dim() - 1)))


def fake_quant_layer(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_int / 2^s, b_int / 2^(ACT_FRAC + s)) as floats, with straight-through rounding; dim 0 of
    ``weight`` is the output channel."""
    s = weight_shifts(weight)
    w_scale, b_scale = _scale(s, weight), _scale(s + ACT_FRAC, bias)
    return (
        torch.clamp(round_ste(weight * w_scale), -WEIGHT_LIMIT, WEIGHT_LIMIT) / w_scale,
        torch.clamp(round_ste(bias * b_scale), -BIAS_LIMIT, BIAS_LIMIT) / b_scale,
    )


def fake_quant_activation(x: torch.Tensor, relu: bool) -> torch.Tensor:
    """Round to the activation grid 2^-ACT_FRAC and clamp to the integer network's range."""
    limit = ACT_LIMIT / (1 << ACT_FRAC)
    q = round_ste(x * (1 << ACT_FRAC)) / (1 << ACT_FRAC)
    return torch.clamp(q, 0.0 if relu else -limit, limit)


def fake_quant_logits(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Round logits to 2^-LOGIT_FRAC and clamp gaps below the maximum to the exp table's range."""
    q = round_ste(logits * (1 << LOGIT_FRAC)) / (1 << LOGIT_FRAC)
    floor = q.amax(dim=dim, keepdim=True).detach() - (EXP_TABLE_SIZE - 1) / (1 << LOGIT_FRAC)
    return torch.maximum(q, floor)


# ------------------------------------------------------------------------------ building the tables
def integer_layer(
    weight: torch.Tensor, bias: torch.Tensor, last: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float (Cout, ...) weights and bias -> (int32 W_int, int64 b_int, int32 re-quantization shift)."""
    weight = weight.detach().double().cpu()
    fan_in = weight[0].numel()
    if fan_in >= MAX_FAN_IN:
        raise ValueError(f"fan-in {fan_in} too large for exact float64 accumulation")
    s = weight_shifts(weight)
    bias = bias.detach().double().cpu()
    w_int = torch.clamp(torch.round(weight * _scale(s, weight)), -WEIGHT_LIMIT, WEIGHT_LIMIT)
    b_int = torch.clamp(torch.round(bias * _scale(s + ACT_FRAC, bias)), -BIAS_LIMIT, BIAS_LIMIT)
    shift = s + (ACT_FRAC - LOGIT_FRAC if last else 0)
    return w_int.to(torch.int32), b_int.to(torch.int64), shift.to(torch.int32)


def input_table(mu: torch.Tensor) -> torch.Tensor:
    """Symbol -> integer input of the first layer: round(mu * 2^ACT_FRAC)."""
    t = torch.round(mu.detach().double().cpu() * (1 << ACT_FRAC))
    return t.clamp(-ACT_LIMIT, ACT_LIMIT).to(torch.int64)


def exp_table() -> torch.Tensor:
    """round(2^16 exp(-d / 2^LOGIT_FRAC)) for d = 0 .. EXP_TABLE_SIZE - 1 (int64)."""
    d = torch.arange(EXP_TABLE_SIZE, dtype=torch.float64)
    return torch.round(torch.exp(-d / (1 << LOGIT_FRAC)) * (1 << CDF_PRECISION)).to(torch.int64)


# ------------------------------------------------------------------------------ exact evaluation
def requantize(acc: torch.Tensor, inv_scale: torch.Tensor) -> torch.Tensor:
    """floor(acc * 2^-shift + 1/2) on float64 holding integers: exact (power-of-two scaling)."""
    return torch.floor(acc * inv_scale + 0.5)


def inverse_scales(shift: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """2^-shift as float64 (exact powers of two)."""
    return torch.pow(2.0, -shift.to(device, torch.float64))


def logits_to_cdf(logits: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Integer logits (n, L) in units of 2^-LOGIT_FRAC -> contiguous int16 CDF (n, L + 1) on the CPU.

    p_k = table[max_j l_j - l_k] (gaps clamped to the table), cum_k = p_0 + ... + p_(k-1),
    cdf_k = floor((cum_k (2^16 - L) + total/2) / total) + k: every level keeps a mass >= 1/2^16.
    All int64, so the result is the same on every device. The last entry (2^16) wraps to 0 in int16;
    torchac never reads it.
    """
    logits = logits.to(torch.int64)
    n, levels = logits.shape
    table = table.to(logits.device)
    gap = (logits.amax(dim=1, keepdim=True) - logits).clamp(max=table.numel() - 1)
    p = table[gap]
    cum = torch.zeros(n, levels + 1, dtype=torch.int64, device=logits.device)
    cum[:, 1:] = torch.cumsum(p, dim=1)
    total = cum[:, -1:]
    span = (1 << CDF_PRECISION) - levels
    cdf = torch.div(cum * span + total // 2, total, rounding_mode="floor")
    cdf = cdf + torch.arange(levels + 1, dtype=torch.int64, device=logits.device)
    return cdf.to(torch.int32).to(torch.int16).cpu().contiguous()
