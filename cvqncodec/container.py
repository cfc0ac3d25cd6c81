"""The ``.cvq`` container: header, one arithmetic-coded stream per group, CRC32 (docs/FORMAT.md).

Pure byte layout: no torch, no file I/O. All integers are big-endian.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from .errors import BitstreamError, MismatchError
from .presets import DOWNSAMPLING

MAGIC = b"\x89CVQ\r\n\x1a\n"
#: 2: CDFs from the context models' integer tables (version 1 used float32 and is not read any more).
FORMAT_VERSION = 2
WEIGHTS_ID_BYTES = 8
MAX_DIMENSION = 1 << 20
#: Largest image (the encoder refuses larger inputs; a header claiming more is corrupt). The transforms run in
#: tiles; this bounds the latent the context models hold (24 MP: see bench/RESULTS.md for the peak memory).
MAX_PIXELS = 40_000_000


@dataclass
class Header:
    model_name: str
    weights_id: bytes
    height: int
    width: int
    #: Colour channels of the original image: 1 (greyscale) or 3 (RGB). Coding is always RGB.
    color_channels: int
    latent_channels: int
    latent_height: int
    latent_width: int
    #: (levels q_g, channels C_g) for every group, in coding order.
    groups: list[tuple[int, int]]
    #: Channel permutation (sorted by importance) when it depends on the image, else None.
    permutation: list[int] | None = None
    #: Byte length of every stream, per group (a group has one stream per segment of its symbols).
    stream_lengths: list[list[int]] = field(default_factory=list)
    version: int = FORMAT_VERSION


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise BitstreamError("truncated .cvq file")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))


def pack(header: Header, streams: list[list[bytes]]) -> bytes:
    """Serialize a header and its streams (a list per group), appending the CRC32 of everything before it."""
    if len(streams) != len(header.groups) or any(not 1 <= len(g) <= 0xFFFF for g in streams):
        raise ValueError("one or more streams per group")
    name = header.model_name.encode("utf-8")
    if len(name) > 255 or len(header.weights_id) != WEIGHTS_ID_BYTES:
        raise ValueError("bad model identifier")
    out = bytearray(MAGIC)
    out += struct.pack(">BB", header.version, len(name)) + name + header.weights_id
    out += struct.pack(">IIB", header.height, header.width, header.color_channels)
    out += struct.pack(">HHH", header.latent_channels, header.latent_height, header.latent_width)
    out += struct.pack(">B", len(header.groups))
    for levels, channels in header.groups:
        out += struct.pack(">BH", levels, channels)
    if header.permutation is None:
        out += struct.pack(">B", 0)
    else:
        out += struct.pack(">B", 1) + struct.pack(f">{len(header.permutation)}H", *header.permutation)
    for group in streams:
        out += struct.pack(f">H{len(group)}I", len(group), *[len(s) for s in group])
    for group in streams:
        for s in group:
            out += s
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


def unpack(data: bytes) -> tuple[Header, list[list[bytes]]]:
    """Parse and validate a .cvq file; raises BitstreamError or MismatchError with a one-line reason."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not a .cvq file (bad magic bytes)")
    r = _Reader(data)
    r.take(len(MAGIC))
    version, name_len = r.unpack(">BB")
    if version != FORMAT_VERSION:
        raise MismatchError(f".cvq format version {version} is not supported (this cvq reads {FORMAT_VERSION})")
    if len(data) < len(MAGIC) + 6 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise BitstreamError("corrupted or truncated .cvq file (CRC32 mismatch)")
    try:
        name = r.take(name_len).decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError("corrupted .cvq header (model name)") from None
    weights_id = r.take(WEIGHTS_ID_BYTES)
    height, width, color = r.unpack(">IIB")
    lc, lh, lw = r.unpack(">HHH")
    (n_groups,) = r.unpack(">B")
    groups = [r.unpack(">BH") for _ in range(n_groups)]
    (has_perm,) = r.unpack(">B")
    perm = list(r.unpack(f">{lc}H")) if has_perm == 1 else None
    lengths = []
    for _ in range(n_groups):
        (count,) = r.unpack(">H")
        if count == 0:
            raise BitstreamError("corrupted .cvq header (stream count)")
        lengths.append(list(r.unpack(f">{count}I")))
    header = Header(
        name, weights_id, height, width, color, lc, lh, lw, [tuple(g) for g in groups], perm, lengths, version
    )
    _validate(header, has_perm)
    streams = [[r.take(n) for n in group] for group in lengths]
    if r.pos != len(data) - 4:
        raise BitstreamError("corrupted .cvq file (length mismatch)")
    return header, streams


def _validate(h: Header, has_perm: int) -> None:
    def bad(what: str) -> BitstreamError:
        return BitstreamError(f"corrupted .cvq header ({what})")

    if not (1 <= h.height <= MAX_DIMENSION and 1 <= h.width <= MAX_DIMENSION) or h.height * h.width > MAX_PIXELS:
        raise bad("image size")
    if h.color_channels not in (1, 3):
        raise bad("colour channels")
    if has_perm not in (0, 1):
        raise bad("permutation flag")
    if not h.groups or any(q < 2 or c < 1 for q, c in h.groups) or sum(c for _, c in h.groups) != h.latent_channels:
        raise bad("groups")
    if h.latent_height != -(-h.height // DOWNSAMPLING) or h.latent_width != -(-h.width // DOWNSAMPLING):
        raise bad("latent size")
    if h.permutation is not None and sorted(h.permutation) != list(range(h.latent_channels)):
        raise bad("permutation")
