"""Rate-distortion-optimized encoding (``cvq encode --effort``): a better latent for one image.

With the decoder and context models fixed, Adam optimizes this image's encoder output Z for the model's own
training objective, Eq. 8 plus the model card's extra terms: ALPHA (1 - MS-SSIM) + mse_weight MSE +
chroma_weight MSE(Cb, Cr) + lambda (1/G) sum_g L_ent,g (Eq. 8's GMM term only shapes the fixed quantizers),
through training's straight-through GMM quantizer ("ste", Eq. 3/4) or stochastic Gumbel annealing ("sga") after
Yang, Bamler & Mandt, "Improving Inference for Neural Image Compression" (NeurIPS 2020). Iterates are judged by
their *real* cost (exact code length of their Eq. 3 symbols under the integer context models + distortion of the
decoded image); iterate 0 (a plain encode) and every step count of EFFORT_STEPS up to ``steps`` are checked on a
trajectory that does not depend on ``steps``, so a higher effort never costs more. The format does not change.
Latents larger than one tile are refined tile by tile with a halo of fixed neighbours, so memory stays bounded.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim

from .container import LATENT_TILE
from .effort import DEFAULT_EFFORT, EFFORT_STEPS  # noqa: F401 (re-exported)
from .entropy import cdf_bits
from .metrics import ms_ssim_window, rgb_to_chroma
from .model import QuantizedLatent
from .precision import bf16_is_fast
from .presets import DOWNSAMPLING
from .tiling import DEFAULT_TILING, Tiling, analyse, decoder_transform, spans
from .weights import LoadedModel

#: alpha of Eq. 8: weight of 1 - MS-SSIM.
ALPHA = 128.0
#: Weight of the MSE term (the shipped models' training loss); a model card's ``mse_weight`` overrides it.
MSE_WEIGHT = 128.0

Box = tuple[int, int, int, int]  # latent rows r0:r1, columns c0:c1


@dataclass(frozen=True)
class RefineSettings:
    steps: int = 0
    #: Adam's learning rate lr / (1 + t / lr_halving) at step t (halved after lr_halving steps; 0: constant).
    lr: float = 0.02
    lr_halving: float = 10.0
    #: lambda: weight of the rate term (1 = the model's own trade-off).
    rate_weight: float = 1.0
    method: str = "ste"  # or "sga"
    #: bf16 autocast for the decoder's gradient pass; None: where the hardware has fast bf16.
    bf16: bool | None = None
    alpha: float = ALPHA
    #: None: the model card's ``mse_weight`` if it has one, else MSE_WEIGHT.
    mse_weight: float | None = None
    #: None: the model card's ``chroma_weight`` (BT.601 Cb/Cr MSE, ``cvq train --chroma-weight``), else 0.
    chroma_weight: float | None = None
    #: SGA temperature tau(t) = sga_tau0 exp(-sga_decay t) (noise seeded with 0).
    sga_tau0: float = 0.2
    sga_decay: float = 0.05

    def __post_init__(self) -> None:
        if self.steps < 0 or self.lr <= 0 or self.rate_weight < 0 or self.method not in ("ste", "sga"):
            raise ValueError(f"invalid refinement settings {self}")

    @classmethod
    def for_effort(cls, effort: int, **overrides) -> RefineSettings:
        if effort not in EFFORT_STEPS:
            raise ValueError(f"effort must be one of {min(EFFORT_STEPS)}..{max(EFFORT_STEPS)}")
        return cls(steps=EFFORT_STEPS[effort], **overrides)


@dataclass(frozen=True)
class Cost:
    """Real cost ``total = distortion + rate_weight * rate``, rate in exact bits per symbol (mean over groups)."""

    total: float
    distortion: float
    rate: float
    bits: float
    ms_ssim: float | None
    mse: float


@dataclass
class RefineResult:
    latent: QuantizedLatent
    start: Cost
    best: Cost
    steps: int  # run, over all windows
    best_step: int | None  # of the best iterate (one window only)
    windows: int
    #: The encoder output Z that ``latent`` quantizes (1, C, h, w): the plain encoder's when no iterate won.
    z: torch.Tensor | None = None


#: Boxes in full-latent coordinates: the tile optimized, the crop held (decode and context boxes), what the
#: tiled decoder reads for the tile, the context models' input, and (relative to the context box) the
#: positions whose code length the tile's symbols change (their CDFs are exact from the context box).
_Window = namedtuple("_Window", "tile crop decode context rate")


@dataclass(frozen=True)
class Objective:
    """The loss the model was trained on, as refinement weighs an iterate: alpha (1 - MS-SSIM) + mse_weight MSE +
    chroma_weight MSE(Cb, Cr) + rate_weight x bits per symbol; the settings' weights, else the model card's."""

    alpha: float
    mse_weight: float
    chroma_weight: float
    rate_weight: float

    @classmethod
    def of(cls, loaded: LoadedModel, s: RefineSettings) -> Objective:
        card = loaded.card
        mse = s.mse_weight if s.mse_weight is not None else card.get("mse_weight", MSE_WEIGHT)
        chroma = s.chroma_weight if s.chroma_weight is not None else card.get("chroma_weight", 0.0)
        # settings.rate_weight is relative to the model's own lambda (cvq train --rate-weight)
        rate = s.rate_weight * float(card.get("rate_weight", 1.0))
        return cls(s.alpha, float(mse or 0.0), float(chroma or 0.0), rate)

    def distortion(self, x_hat: torch.Tensor, x: torch.Tensor):
        """The distortion of the reconstruction, clamped and cropped to the size of ``x``: (value, MS-SSIM, MSE)."""
        x_hat = x_hat[..., : x.shape[-2], : x.shape[-1]].float().clamp(0.0, 1.0)
        mse = torch.mean((x_hat - x) ** 2)
        win = ms_ssim_window(min(x.shape[-2:]))
        ssim = ms_ssim(x_hat, x, data_range=1.0, win_size=win) if win else None
        value = self.mse_weight * mse + (self.alpha * (1 - ssim) if ssim is not None else 0.0)
        if self.chroma_weight:
            value = value + self.chroma_weight * torch.mean(rgb_to_chroma(x_hat - x) ** 2)
        return value, ssim, mse


def exact_bits(evaluator, symbols: torch.Tensor, box: Box | None = None) -> float:
    """Code length of (C_g, h, w) symbols coded in latent tiles (format 4), counting only positions in ``box``."""
    symbols = symbols.cpu()
    order, cdf = evaluator.cdfs_in_order(symbols, LATENT_TILE)
    sym = symbols.reshape(-1)[order]
    if box is not None and box != (0, symbols.shape[-2], 0, symbols.shape[-1]):
        mask = torch.zeros(symbols.shape[-2:], dtype=torch.bool)
        mask[box[0] : box[1], box[2] : box[3]] = True
        keep = mask.expand(symbols.shape).reshape(-1)[order]
        cdf, sym = cdf[keep], sym[keep]
    return cdf_bits(cdf, sym)


def _cost(dist, ssim, mse, bits: list[float], channels: list[int], positions: int, rate_weight: float) -> Cost:
    rate = sum(b / (c * positions) for b, c in zip(bits, channels)) / len(bits)
    d = float(dist)
    return Cost(d + rate_weight * rate, d, rate, sum(bits), None if ssim is None else float(ssim), float(mse))


@torch.no_grad()
def real_cost(
    loaded: LoadedModel,
    x: torch.Tensor,
    latent: QuantizedLatent,
    settings: RefineSettings,
    size: tuple[int, int] | None = None,
    tiling: Tiling = DEFAULT_TILING,
) -> Cost:
    """The real cost of coding padded ``x`` (1, 3, 16h, 16w) as ``latent``: exact bits, decoded distortion."""
    x_hat, x = loaded.model.reconstruct(latent, x.device, tiling), x[..., : size[0], : size[1]] if size else x
    objective = Objective.of(loaded, settings)
    dist, ssim, mse = objective.distortion(x_hat, x)
    bits = [exact_bits(ev, s) for ev, s in zip(loaded.evaluators, latent.groups)]
    channels = [s.shape[0] for s in latent.groups]
    return _cost(dist, ssim, mse, bits, channels, latent.groups[0][0].numel(), objective.rate_weight)


def windows(h: int, w: int, tiling: Tiling, reach: int) -> list[_Window]:
    """One window per tile of the tiled decoder's layout (all boxes the whole latent when it fits one tile)."""

    def grow(t: Box, r: int) -> Box:
        return max(0, t[0] - r), min(h, t[1] + r), max(0, t[2] - r), min(w, t[3] + r)

    out = []
    for t in [(i0, i1, j0, j1) for i0, i1 in spans(h, tiling.tile) for j0, j1 in spans(w, tiling.tile)]:
        dec, ctx, r = grow(t, tiling.halo), grow(t, 2 * reach), grow(t, reach)
        crop = (min(dec[0], ctx[0]), max(dec[1], ctx[1]), min(dec[2], ctx[2]), max(dec[3], ctx[3]))
        out.append(_Window(t, crop, dec, ctx, (r[0] - ctx[0], r[1] - ctx[0], r[2] - ctx[2], r[3] - ctx[2])))
    return out


def _sl(box: Box, origin: Box = (0, 0, 0, 0), scale: int = 1):
    """Index of ``box`` relative to the box ``origin`` (scaled to pixels), over the last two dimensions."""
    return (
        ...,
        slice((box[0] - origin[0]) * scale, (box[1] - origin[0]) * scale),
        slice((box[2] - origin[2]) * scale, (box[3] - origin[2]) * scale),
    )


def _sga(q, g: torch.Tensor, tau: float, gen: torch.Generator):
    """SGA for a GMM quantizer: each value mixes its symbol (Eq. 3) and the likelier neighbouring mean with
    weight sigmoid((d / tau + L) / tau), d the neighbour's log-joint gap (<= 0), L logistic noise.
    Returns (soft values, symbols, neighbours, neighbour weights)."""
    lj = q.log_joint(g)
    best, sym = lj.max(-1)
    rank = torch.argsort(torch.argsort(q.mu.detach()))  # of every level, by its mean
    near = lj.masked_fill((rank - rank[sym][..., None]).abs() != 1, -math.inf)
    gap, other = near.max(-1)
    gap = gap - best  # -inf with a single level: weight 0
    u = torch.rand(g.shape, generator=gen, device=g.device).clamp(1e-6, 1 - 1e-6)
    w = torch.sigmoid((gap / tau + torch.log(u) - torch.log1p(-u)) / tau)
    return (1 - w) * q.mu[sym] + w * q.mu[other], sym, other, w


def _split(ctrl, z: torch.Tensor, att: torch.Tensor | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(permutation, groups) as the controller makes them; SE attention ``att`` frozen in windows."""
    zw, w = ctrl.weigh(z) if att is None else (z * att, att.float().mean(dim=(0, 2, 3)))
    perm = ctrl.order(w)
    return perm, ctrl.split(zw, perm)


def _loss(
    model,
    z: torch.Tensor,
    win: _Window,
    x_tile: torch.Tensor,
    s: RefineSettings,
    objective: Objective,
    att,
    step: int,
    gen: torch.Generator,
    bf16: bool,
) -> torch.Tensor:
    """Differentiable objective of one window: distortion of its tile + lambda * rate per tile symbol."""
    ctrl, ctx, (perm, groups) = model.controller, _sl(win.context, win.crop), _split(model.controller, z, att)
    hats, rates, positions = [], [], (win.tile[1] - win.tile[0]) * (win.tile[3] - win.tile[2])
    for q, cm, g in zip(ctrl.quantizers, model.context_models, groups):
        if s.method == "ste":
            g_hat, sym, _ = q(g)
            bits = F.cross_entropy(cm(g_hat[ctx], simulate_integer=False, bf16=bf16), sym[ctx], reduction="none")
        else:
            g_hat, sym, other, mix = _sga(q, g, s.sga_tau0 * math.exp(-s.sga_decay * step), gen)
            logp = F.log_softmax(cm(g_hat[ctx], simulate_integer=False, bf16=bf16), dim=1)
            bits = -(
                (1 - mix[ctx]) * logp.gather(1, sym[ctx][:, None])[:, 0]
                + mix[ctx] * logp.gather(1, other[ctx][:, None])[:, 0]
            )
        rates.append(bits[_sl(win.rate)].sum() / (math.log(2) * g.shape[1] * positions))
        hats.append(g_hat)
    with torch.autocast(device_type=z.device.type, dtype=torch.bfloat16, enabled=bf16):
        x_hat = model.decoder(ctrl.merge(hats, perm)[_sl(win.decode, win.crop)])
    dist = objective.distortion(x_hat[_sl(win.tile, win.decode, DOWNSAMPLING)], x_tile)[0]
    return dist + objective.rate_weight * torch.stack(rates).mean()


@torch.no_grad()
def _window_cost(
    loaded: LoadedModel, z: torch.Tensor, win: _Window, x_tile: torch.Tensor, objective: Objective, att
) -> tuple[Cost, QuantizedLatent]:
    """Real cost of the window's hard symbols (for a single window, exactly :func:`real_cost`)."""
    ctrl, crop = loaded.model.controller, win.crop
    perm, groups = _split(ctrl, z, att)
    groups = [q.symbols(g) for q, g in zip(ctrl.quantizers, groups)]
    x_hat = decoder_transform(loaded.model.decoder, ctrl.dequantize(groups, perm)[_sl(win.decode, crop)])
    dist, ssim, mse = objective.distortion(x_hat[_sl(win.tile, win.decode, DOWNSAMPLING)], x_tile)
    bits = [exact_bits(ev, g[0][_sl(win.context, crop)], win.rate) for ev, g in zip(loaded.evaluators, groups)]
    positions = (win.tile[1] - win.tile[0]) * (win.tile[3] - win.tile[2])
    cost = _cost(dist, ssim, mse, bits, [g.shape[1] for g in groups], positions, objective.rate_weight)
    return cost, QuantizedLatent([g[0].cpu() for g in groups], perm)


def _refine_window(
    loaded,
    z_full,
    x,
    size,
    win: _Window,
    s: RefineSettings,
    objective: Objective,
    bf16,
    progress,
    offset: int,
    total: int,
    observe=None,
):
    """Adam on the window's tile of Z. Returns (start cost, (best cost, step, tile of Z, latent of the crop))."""
    fixed = z_full[_sl(win.crop)].detach().clone()
    var = fixed[_sl(win.tile, win.crop)].clone().requires_grad_(True)
    x_tile = x[_sl(win.tile, scale=DOWNSAMPLING)][
        ..., : size[0] - win.tile[0] * DOWNSAMPLING, : size[1] - win.tile[2] * DOWNSAMPLING
    ]
    se, whole = loaded.model.controller.se, win.crop == (0, z_full.shape[-2], 0, z_full.shape[-1])
    att = None if se is None or whole else se(z_full).detach()  # SE attention of the whole latent
    opt, gen = torch.optim.Adam([var], lr=s.lr), torch.Generator(device=x.device).manual_seed(0)
    start = best = None

    def assemble() -> torch.Tensor:
        z = fixed.clone()
        z[_sl(win.tile, win.crop)] = var
        return z

    for step in range(s.steps + 1):
        if step in (0, s.steps) or step in EFFORT_STEPS.values():
            cost, latent = _window_cost(loaded, assemble(), win, x_tile, objective, att)
            start = start or cost
            if observe is not None:
                observe(step, cost, latent)
            if best is None or cost.total < best[0].total:
                best = (cost, step, var.detach().clone(), latent)
        if step == s.steps:
            break
        opt.param_groups[0]["lr"] = s.lr / (1 + step / s.lr_halving) if s.lr_halving > 0 else s.lr
        with torch.enable_grad():
            loss = _loss(loaded.model, assemble(), win, x_tile, s, objective, att, step, gen, bf16)
            (var.grad,) = torch.autograd.grad(loss, [var])
        opt.step()
        if progress is not None:
            progress(offset + step + 1, total)
    return start, best


def refine(
    loaded: LoadedModel,
    x: torch.Tensor,
    settings: RefineSettings,
    size: tuple[int, int] | None = None,
    tiling: Tiling = DEFAULT_TILING,
    progress: Callable[[int, int], None] | None = None,
    observe: Callable[[int, Cost, QuantizedLatent], None] | None = None,
) -> RefineResult:
    """Refine the latent of one padded image ``x`` (1, 3, 16h, 16w); ``size`` (H, W) is the part measured
    (default: all of ``x``). The model is left as it was; ``progress(done, total)`` follows the steps and
    ``observe(step, cost, latent)`` sees every checked iterate (single window only)."""
    model, size = loaded.model, tuple(size or x.shape[-2:])
    bf16 = bf16_is_fast(x.device) if settings.bf16 is None else settings.bf16
    objective, was_training = Objective.of(loaded, settings), model.training
    model.eval()
    try:
        with torch.no_grad():
            z = analyse(model.encoder, x, model.preset.latent_channels, tiling)
        # A window made of whole coding tiles has a rate of its own; otherwise its symbols' context reaches one
        # latent pixel per masked 3x3x3 layer into its neighbours.
        reach = 0 if tiling.tile % LATENT_TILE == 0 else len(model.context_models[0].convs())
        wins = windows(z.shape[-2], z.shape[-1], tiling, reach)
        total = settings.steps * len(wins)
        if len(wins) == 1:
            start, (best, best_step, z, latent) = _refine_window(
                loaded, z, x, size, wins[0], settings, objective, bf16, progress, 0, total, observe
            )
        else:  # windows judge their tile only: the whole image is costed before and after
            best_step, latent, plain = None, model.quantize_latent(z), z.clone()
            start = real_cost(loaded, x, latent, settings, size, tiling)
            for k, win in enumerate(wins):
                z[_sl(win.tile)] = _refine_window(
                    loaded, z, x, size, win, settings, objective, bf16, progress, k * settings.steps, total
                )[1][2]
            refined = model.quantize_latent(z)
            best = real_cost(loaded, x, refined, settings, size, tiling)
            latent, best, z = (refined, best, z) if best.total < start.total else (latent, start, plain)
    finally:
        model.train(was_training)
    return RefineResult(latent, start, best, total, best_step, len(wins), z)
