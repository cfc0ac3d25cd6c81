"""Which conventional codecs ``cvq bench`` knows, how ``--codecs`` names them, and which are usable here."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .pillow_codecs import AVIF, HEIF, JPEG, JPEG2000, JXL, Conventional, WebP

CODECS: dict[str, Conventional] = {c.key: c for c in (JPEG(), WebP(), JPEG2000(), AVIF(), HEIF(), JXL())}
ALIASES = {
    "jpg": "jpeg",
    "j2k": "jpeg2000",
    "jp2": "jpeg2000",
    "jpeg-2000": "jpeg2000",
    "openjpeg": "jpeg2000",
    "heic": "heif",
    "hevc": "heif",
    "bpg": "heif",
    "jpegxl": "jxl",
    "jpeg-xl": "jxl",
}


def parse_codecs(text: str | None) -> list[str]:
    """'jpeg,webp' / 'all' -> codec keys (ValueError naming an unknown one)."""
    if not text:
        return []
    out = []
    for name in (t.strip().lower() for t in text.split(",")):
        if not name:
            continue
        if name == "all":
            out.extend(CODECS)
            continue
        key = ALIASES.get(name, name)
        if key not in CODECS:
            raise ValueError(f"unknown codec {name!r} (choose from {', '.join(CODECS)}, or all)")
        out.append(key)
    return list(dict.fromkeys(out))


def available_codecs(keys: Sequence[str], note: Callable[[str], None]) -> list[str]:
    """The codecs of ``keys`` usable here; a one-line note for each skipped one."""
    out = []
    for key in keys:
        reason = CODECS[key].unavailable()
        if reason:
            note(f"cvq bench: skipping {key}: {reason}")
        else:
            out.append(key)
    return out
