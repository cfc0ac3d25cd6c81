"""Matched-bpp comparison: per image, each codec's setting nearest in bpp to each of our rate points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .records import Record, mean


@dataclass
class Match:
    ours: str  # our rate point (model)
    codec: str
    images: int
    bpp_ours: float
    bpp_theirs: float
    ms_ssim_diff: float  # mean over images of ours - theirs
    ms_ssim_db_diff: float  # the same in dB


def nearest(candidates: Sequence[Record], bpp: float) -> Record | None:
    """The candidate nearest in bpp to ``bpp`` (ties: the lower setting); None for no candidates."""
    return min(candidates, key=lambda c: (abs(c.bpp - bpp), c.order), default=None)


def match_bpp(records: Sequence[Record], ours: str, codecs: Sequence[str]) -> list[Match]:
    """Per image and per rate point of ``ours``, the setting of each codec with the nearest bpp; returns
    the paired MS-SSIM differences (ours - theirs) and both mean bpps, averaged over the images where
    MS-SSIM is defined."""
    by_image: dict[tuple[str, str], list[Record]] = {}
    ours_points: dict[str, list[Record]] = {}
    for r in records:
        by_image.setdefault((r.codec, r.image), []).append(r)
        if r.codec == ours:
            ours_points.setdefault(r.source, []).append(r)
    out = []
    for rs in ours_points.values():
        for codec in codecs:
            pairs = []
            for r in rs:
                cands = [c for c in by_image.get((codec, r.image), []) if c.ms_ssim is not None]
                if r.ms_ssim is None or not cands:
                    continue
                pairs.append((r, nearest(cands, r.bpp)))
            if pairs:
                out.append(
                    Match(
                        rs[0].setting,
                        codec,
                        len(pairs),
                        mean(a.bpp for a, _ in pairs),
                        mean(b.bpp for _, b in pairs),
                        mean(a.ms_ssim - b.ms_ssim for a, b in pairs),
                        mean(a.ms_ssim_db - b.ms_ssim_db for a, b in pairs),
                    )
                )
    return out
