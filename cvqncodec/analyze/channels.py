"""Channel influence (Sec. 2, Fig. 1) and per-channel rate: the numbers of ``cvq analyze``.

Zeroing one channel of the quantized latent Z-hat at a time and measuring the loss is also the
reconstruction-error channel importance of Eq. 6 (the trainer's ``update_re_importance``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..imageio import as_decoded
from ..metrics import ms_ssim, ms_ssim_db, psnr
from ..model import CVQN, pad_to_multiple
from ..presets import DOWNSAMPLING
from .original import thumbnail

NAN = float("nan")


def _db_difference(a: float, b: float) -> float:
    """a - b for dB values that may be +inf (a perfect reconstruction); inf - inf counts as no loss."""
    return 0.0 if a == b else a - b


def _by_channel(perm: torch.Tensor, per_group: list[torch.Tensor]) -> torch.Tensor:
    """Per-group values (C_g each, in the controller's sorted order) -> one value per original channel."""
    flat = torch.cat(per_group)
    out = torch.empty_like(flat)
    out[perm] = flat
    return out


@torch.no_grad()
def channel_influence(
    model: CVQN,
    image: torch.Tensor,
    *,
    rate: bool = False,
    color_channels: int = 3,
    progress: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """For every latent channel c: the losses when Z-hat[c] = 0 before decoding (Sec. 2, Eq. 6).

    ``image`` is (1, 3, H, W) in [0, 1], on the model's device. Any size the codec accepts (1x1 up).
    With ``color_channels=1`` the reconstructions are compared as greyscale (as ``cvq`` decodes them).
    ``progress`` is called with the channel index after each channel.

    Returns CPU tensors, indexed by the original channel index c where they have length C:

    - ``psnr_loss``: float64 (C,), PSNR(base) - PSNR(channel c zeroed), dB;
    - ``ms_ssim_loss``: float64 (C,), MS-SSIM(base) - MS-SSIM(zeroed) (d_MS-SSIM of Eq. 6);
    - ``ms_ssim_db_loss``: float64 (C,), the same in dB, -10 log10(1 - MS-SSIM) (Fig. 1 bottom right);
      both MS-SSIM entries are NaN for images under ``metrics.MS_SSIM_MIN_SIDE`` px (ms_ssim gives None);
    - ``group``: int64 (C,), the 0-based group of each channel; ``levels``: int64 (C,), its q_g;
    - ``base_psnr``, ``base_ms_ssim``: float64 scalars of the unmodified reconstruction (NaN if n/a);
    - ``z_hat``: float32 (C, h, w), the dequantized latent in the original channel order;
    - ``permutation``: int64 (C,), the controller's channel order (sorted position -> channel);
    - with ``rate=True`` also ``bits``: float64 (C,), the bits the context models spend on each channel:
      the per-symbol bits of ``ContextModel.bits_per_symbol`` on each group volume (dense masked
      conv, the training estimate), summed over the channel and mapped back through the permutation.

    A channel that is already all zero is not decoded again: its losses are exactly 0.
    """
    h, w = image.shape[-2:]
    x = pad_to_multiple(image)
    latent = model.quantize(x)
    ctrl = model.controller
    perm = latent.permutation.cpu()
    symbols = [s.unsqueeze(0).to(x.device) for s in latent.groups]
    group_values = ctrl.dequantize_groups(symbols)  # (1, C_g, h, w) each
    z_hat = ctrl.merge(group_values, perm)
    group = _by_channel(perm, [torch.full((s.shape[1],), g, dtype=torch.int64) for g, s in enumerate(symbols)])

    def decode(z: torch.Tensor) -> torch.Tensor:
        return as_decoded(model.decoder(z).clamp(0, 1)[:, :, :h, :w], color_channels)

    base = decode(z_hat)
    base_psnr, base_ms = psnr(image, base), ms_ssim(image, base)
    base_ms_db = None if base_ms is None else ms_ssim_db(base_ms)
    rows = []
    for c in range(z_hat.shape[1]):
        if not torch.any(z_hat[:, c]):  # zeroing changes nothing
            rows.append((0.0, NAN if base_ms is None else 0.0, NAN if base_ms is None else 0.0))
        else:
            z = z_hat.clone()
            z[:, c] = 0
            rec = decode(z)
            ms = ms_ssim(image, rec)
            rows.append(
                (
                    _db_difference(base_psnr, psnr(image, rec)),
                    NAN if ms is None else base_ms - ms,
                    NAN if ms is None else _db_difference(base_ms_db, ms_ssim_db(ms)),
                )
            )
        if progress is not None:
            progress(c)
    t = torch.tensor(rows, dtype=torch.float64)
    out = {
        "psnr_loss": t[:, 0],
        "ms_ssim_loss": t[:, 1],
        "ms_ssim_db_loss": t[:, 2],
        "group": group,
        "levels": torch.tensor(ctrl.levels, dtype=torch.int64)[group],
        "base_psnr": torch.tensor(base_psnr, dtype=torch.float64),
        "base_ms_ssim": torch.tensor(NAN if base_ms is None else base_ms, dtype=torch.float64),
        "z_hat": z_hat[0].float().cpu(),
        "permutation": perm.clone(),
    }
    if rate:
        out["bits"] = _by_channel(
            perm,
            [
                cm.bits_per_symbol(v, s)[0].double().sum(dim=(1, 2)).cpu()
                for cm, v, s in zip(model.context_models, group_values, symbols)
            ],
        )
    return out


@dataclass
class InfluenceSummary:
    """Per-channel influence and rate, averaged over one or more images (what ``cvq analyze`` reports)."""

    #: Per channel (original index), float64 (C,): means over the images.
    psnr_loss: torch.Tensor
    ms_ssim_loss: torch.Tensor  # mean over the images where MS-SSIM is defined; NaN where none
    ms_ssim_db_loss: torch.Tensor
    bits: torch.Tensor  # mean bits per image
    #: Per channel, int64 (C,): 0-based group and its levels (for image-dependent (SE) orders: the
    #: group a channel fell in most often).
    group: torch.Tensor
    levels: torch.Tensor
    #: Levels and channel count of every group.
    group_levels: list[int]
    group_channels: list[int]
    #: Mean bits per image spent on each group (from the per-image assignment).
    group_bits: list[float]
    #: Mean over images of the unmodified reconstruction's PSNR, MS-SSIM (NaN if n/a) and estimated bpp.
    base_psnr: float
    base_ms_ssim: float
    bpp: float
    images: int
    ms_ssim_images: int
    pixels: int  # all images together
    #: Mean latent positions h x w per image (symbols per channel).
    latent_positions: float
    image_dependent_order: bool
    #: The first image's dequantized latent (C, h, w), group assignment and permutation (channels.png).
    first_z_hat: torch.Tensor
    first_group: torch.Tensor
    first_permutation: torch.Tensor
    #: Name, width and height of every image.
    names: list[str] = field(default_factory=list)
    sizes: list[tuple[int, int]] = field(default_factory=list)
    #: The first image, reduced for the figures' original-image panel: uint8 (h, w) or (h, w, 3).
    first_image: np.ndarray | None = None

    @property
    def channels(self) -> int:
        return int(self.psnr_loss.numel())

    @property
    def total_bits(self) -> float:
        return float(self.bits.sum())

    @property
    def ms_ssim_db(self) -> float:
        b = self.base_ms_ssim
        return NAN if math.isnan(b) else ms_ssim_db(b)


def nanmean(rows: list[torch.Tensor]) -> torch.Tensor:
    """Mean over the first dimension ignoring NaN; NaN where every row is NaN (no warning)."""
    t = torch.stack(rows)
    ok = ~torch.isnan(t)
    n = ok.sum(0)
    s = torch.where(ok, t, torch.zeros_like(t)).sum(0)
    return torch.where(n > 0, s / n.clamp(min=1), torch.full_like(s, NAN))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else NAN


def analyze_images(
    model: CVQN,
    images: Iterable[tuple[str, torch.Tensor, int]],
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> InfluenceSummary:
    """Run :func:`channel_influence` (with rates) on every (name, (1, 3, H, W) image, colour channels)
    and average. ``progress`` is passed on to :func:`channel_influence`."""
    per_image: list[dict[str, torch.Tensor]] = []
    names, sizes, bpps = [], [], []
    level_of = torch.tensor(model.controller.levels, dtype=torch.int64)
    groups_n = len(level_of)
    group_bits: list[list[float]] = []
    for name, image, color_channels in images:
        r = channel_influence(model, image.to(device), rate=True, color_channels=color_channels, progress=progress)
        if per_image:  # keep the first image's latent only
            del r["z_hat"]
        else:
            first_image = thumbnail(image, color_channels)
        per_image.append(r)
        h, w = image.shape[-2:]
        names.append(name)
        sizes.append((int(w), int(h)))
        bpps.append(float(r["bits"].sum()) / (h * w))
        group_bits.append([float(r["bits"][r["group"] == g].sum()) for g in range(groups_n)])
    if not per_image:
        raise ValueError("no images to analyze")
    first = per_image[0]
    groups = torch.stack([r["group"] for r in per_image])  # (N, C)
    group = torch.stack([(groups == g).sum(0) for g in range(groups_n)]).argmax(0)  # most frequent; ties: lowest
    base_ms = [float(r["base_ms_ssim"]) for r in per_image if not math.isnan(float(r["base_ms_ssim"]))]
    return InfluenceSummary(
        psnr_loss=torch.stack([r["psnr_loss"] for r in per_image]).mean(0),
        ms_ssim_loss=nanmean([r["ms_ssim_loss"] for r in per_image]),
        ms_ssim_db_loss=nanmean([r["ms_ssim_db_loss"] for r in per_image]),
        bits=torch.stack([r["bits"] for r in per_image]).mean(0),
        group=group,
        levels=level_of[group],
        group_levels=[int(v) for v in level_of],
        group_channels=[int(v) for v in model.controller.group_channels],
        group_bits=[sum(b[g] for b in group_bits) / len(group_bits) for g in range(groups_n)],
        base_psnr=_mean([float(r["base_psnr"]) for r in per_image]),
        base_ms_ssim=_mean(base_ms),
        bpp=_mean(bpps),
        images=len(per_image),
        ms_ssim_images=len(base_ms),
        pixels=sum(w * h for w, h in sizes),
        latent_positions=_mean([math.ceil(h / DOWNSAMPLING) * math.ceil(w / DOWNSAMPLING) for w, h in sizes]),
        image_dependent_order=model.controller.image_dependent_order,
        first_z_hat=first["z_hat"],
        first_group=first["group"],
        first_permutation=first["permutation"],
        names=names,
        sizes=sizes,
        first_image=first_image,
    )
