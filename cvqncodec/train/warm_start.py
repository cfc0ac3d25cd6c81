"""Warm start from an ``--init`` weights file: matching tensors copied, latent channels mapped group by group
(each keeps its number of levels, Sec. 3.3), wider layers started as the old network, and the GMM quantizers
(Eq. 2) of groups whose number of levels changed extended outwards."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..model import CVQN
from ..weights import load_for_training

#: Tensors whose dimension ``dim`` runs over the latent channels C.
LATENT_CHANNEL_DIMS = {
    "encoder.tail.weight": 0,
    "encoder.tail.bias": 0,
    "decoder.head.weight": 1,
    "controller.re_importance": 0,
}


def group_channel_map(old_groups: tuple[int, ...], new_groups: tuple[int, ...]) -> list[int]:
    """For each new latent channel, the old channel in the same group and rank (-1 if the old group is
    smaller), so that a warm start keeps each channel's number of levels (predefined importance)."""
    mapping = []
    old_start = 0
    for old_n, new_n in zip(old_groups, new_groups):
        mapping += [old_start + i if i < old_n else -1 for i in range(new_n)]
        old_start += old_n
    return mapping


def copy_overlap(target: torch.Tensor, source: torch.Tensor) -> None:
    """Copy the slice the two tensors share (from index 0 in every dimension) into ``target``."""
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(source.shape, target.shape))
    target[overlap] = source[overlap].to(target.dtype)


def copy_widened(target: torch.Tensor, source: torch.Tensor) -> None:
    """The overlapping slice; in a wider layer the old outputs ignore the new inputs, so the widened network
    computes the old one's function at the start (new channels only feed new channels)."""
    copy_overlap(target, source)
    if target.dim() >= 2 and target.shape[1] > source.shape[1]:
        target[: source.shape[0], source.shape[1] :] = 0


def copy_latent_channels(target: torch.Tensor, source: torch.Tensor, dim: int, channel_map: list[int]) -> None:
    """Latent channel ``new`` (along ``dim``) from old channel ``channel_map[new]``. A new channel (-1) keeps its
    initial values as an output (``dim`` 0, e.g. the encoder's last layer) and is zeroed as an input (the
    decoder's first layer), so that the decoder starts out computing the old one's function."""
    for new, old in enumerate(channel_map):
        if old < 0:
            if dim > 0:
                target.select(dim, new).zero_()
            continue
        row, src_row = target.select(dim, new), source.select(dim, old)
        copy_overlap(row, src_row)
        if dim == 0 and row.dim() >= 1:  # an old output of a wider layer ignores the new inputs
            row[src_row.shape[0] :] = 0


def warm_start(
    own: dict[str, torch.Tensor], src: dict[str, torch.Tensor], channel_map: list[int] | None = None
) -> tuple[int, int]:
    """Copy ``src`` tensors into ``own`` in place: whole where shapes match; for another latent width,
    the latent channels through ``channel_map`` (group by group), and otherwise the overlapping slice with
    the weights from new input channels to old outputs zeroed (a wider preset starts as the old network).
    Returns (tensors copied whole, tensors copied in part)."""
    copied = partial = 0
    for name, target in own.items():
        source = src.get(name)
        if source is None or source.dim() != target.dim():
            continue
        if source.shape == target.shape:
            target.copy_(source)
            copied += 1
            continue
        dim = LATENT_CHANNEL_DIMS.get(name)
        if channel_map is not None and dim is not None and len(channel_map) == target.shape[dim]:
            copy_latent_channels(target, source, dim, channel_map)
        else:
            copy_widened(target, source)
        partial += 1
    return copied, partial


def level_map(old_levels: int, new_levels: int) -> torch.Tensor:
    """For each of ``new_levels`` quantization levels, the old level it starts from: the old levels sit in the
    middle and the extra ones repeat the outermost (or, with fewer levels, the outer old ones are dropped)."""
    offset = (new_levels - old_levels) // 2
    return (torch.arange(new_levels) - offset).clamp(0, old_levels - 1)


def extended_means(mu_old: torch.Tensor, new_levels: int) -> torch.Tensor:
    """GMM means mu (Eq. 2) for ``new_levels`` levels: the trained ones in the middle, new ones continuing
    outwards at the outermost spacing."""
    old_levels = len(mu_old)
    step_lo = float(mu_old[1] - mu_old[0]) if old_levels > 1 else 1.0
    step_hi = float(mu_old[-1] - mu_old[-2]) if old_levels > 1 else 1.0
    ranks = torch.arange(new_levels) - (new_levels - old_levels) // 2
    mu = mu_old[level_map(old_levels, new_levels)].clone()
    mu = torch.where(ranks < 0, mu_old[0] + ranks * step_lo, mu)
    return torch.where(ranks >= old_levels, mu_old[-1] + (ranks - old_levels + 1) * step_hi, mu)


def warm_start_group_levels(model: CVQN, source: CVQN, g: int) -> None:
    """Group ``g`` of ``model`` from the same group of ``source`` with another number of levels: means by
    :func:`extended_means`; sigma, pi and the context model's output rows from the nearest old level."""
    dst, src = model.controller.quantizers[g], source.controller.quantizers[g]
    index = level_map(src.levels, dst.levels)
    dst.mu.copy_(extended_means(src.mu.detach().float(), dst.levels))
    dst.log_sigma.copy_(src.log_sigma[index])
    dst.pi_logits.copy_(src.pi_logits[index])
    dst_last, src_last = model.context_models[g].last, source.context_models[g].last
    if dst_last.weight.shape[1:] == src_last.weight.shape[1:]:
        dst_last.weight.copy_(src_last.weight[index])
        dst_last.bias.copy_(src_last.bias[index])


@torch.no_grad()
def warm_start_levels(model: CVQN, source: CVQN) -> int:
    """Warm-start the GMM quantizers and context-model outputs of groups whose number of levels changed
    (``--levels``): the trained means stay in the middle and new ones continue outwards at the outermost
    spacing; sigma, pi and the context model's output rows are copied from the nearest old level.
    Returns the number of groups changed."""
    new_levels, old_levels = model.controller.levels, source.controller.levels
    if len(new_levels) != len(old_levels):
        return 0
    changed = [g for g, (new_q, old_q) in enumerate(zip(new_levels, old_levels)) if new_q != old_q]
    for g in changed:
        warm_start_group_levels(model, source, g)
    return len(changed)


def latent_channel_map(source: CVQN, model: CVQN) -> list[int] | None:
    """The group-by-group channel map where both models order channels the same way (predefined importance,
    the same number of groups; a group whose number of levels changes is then :func:`warm_start_levels`'s),
    else None."""
    both_predefined = source.preset.importance == model.preset.importance == "predefined"
    same_layout = both_predefined and len(source.preset.levels) == len(model.preset.levels)
    return group_channel_map(source.controller.group_channels, model.controller.group_channels) if same_layout else None


def warm_start_from(model: CVQN, init: str, log: Callable[[str], object]) -> None:
    """Start ``model`` from the weights file ``init`` (``--init``, any format version) and log what was copied."""
    source = load_for_training(init)
    own = model.state_dict()
    copied, partial = warm_start(own, source.state_dict(), latent_channel_map(source, model))
    model.load_state_dict(own)
    log(
        f"warm start from {init}: {copied} tensors copied, {partial} partly "
        f"(other shape), {len(own) - copied - partial} left at their initial values"
    )
    if warm_start_levels(model, source):
        log(
            f"quantization levels {source.preset.levels} -> {model.preset.levels}: trained means kept in the "
            "middle, new levels continue outwards"
        )
