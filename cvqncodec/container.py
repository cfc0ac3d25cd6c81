"""The ``.cvq`` container: header, optional metadata, one arithmetic-coded stream per segment of each group,
CRC32 (docs/FORMAT.md).

Pure byte layout and header arithmetic: no torch, no file I/O. All integers are big-endian.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import BitstreamError, InputError, MismatchError
from .presets import DOWNSAMPLING

MAGIC = b"\x89CVQ\r\n\x1a\n"
#: 4: the latent coded in independent tiles (a u16 tile side in the header). 3: an optional metadata section
#: (ICC profile, EXIF, XMP). 2: CDFs from the context models' integer tables, no metadata. 2 and 3 are still read
#: (as one tile covering the latent). Version 1 used float32 probabilities and is not read any more.
FORMAT_VERSION = 4
READABLE_VERSIONS = (2, 3, 4)
#: Side, in latent positions, of the tiles a version-4 writer codes independently (Kodak: one tile).
LATENT_TILE = 64
#: Zero-padded positions of the tiles coded side by side in one run (format 4): bounds a decoder's buffers
#: (2^20 positions x 24 filters x 3 int32 buffers is 300 MB) and makes thin images' wavefronts wide.
RUN_VOXELS = 1 << 20
Box = tuple[int, int, int, int]
#: Tile sides a version-4 reader accepts: small enough to bound the work per tile, large enough to bound the
#: number of tiles (docs/FORMAT.md, "Tiles").
TILE_RANGE = (16, 256)
WEIGHTS_ID_BYTES = 8
#: Largest height or width: the latent size ceil(side / 16) is stored as a u16.
MAX_DIMENSION = 0xFFFF * DOWNSAMPLING
#: Largest image (the encoder refuses larger inputs; a header claiming more is corrupt). The transforms run in
#: tiles; this bounds the latent the context models hold (24 MP: see bench/RESULTS.md for the peak memory).
MAX_PIXELS = 40_000_000
#: Metadata tags of format 3 (docs/FORMAT.md); a reader skips tags it does not know.
METADATA_TAGS = {1: "icc", 2: "exif", 3: "xmp"}
METADATA_KINDS = {name: tag for tag, name in METADATA_TAGS.items()}
#: Symbols per segment of a tile (format 4): the decoder re-decodes a growing prefix of the current segment at
#: every wavefront, so shorter segments decode faster and cost a few bytes each (bench/RESULTS.md).
SEGMENT_SYMBOLS = 1 << 14
#: Symbols per segment of the untiled formats 2 and 3.
UNTILED_SEGMENT_SYMBOLS = 1 << 16
#: Decoder work model, in 1/160 of the work per symbol (measured on the CPU, docs/FORMAT.md "Limits"): every
#: wavefront costs about 25 symbols of fixed overhead, every symbol re-decoded in a segment's growing prefix 1/160.
WORK_PER_SYMBOL, WORK_PER_WAVEFRONT, WORK_PER_PREFIX_SYMBOL = 160, 4000, 1
#: A header is refused when decoding it would cost more than WORK_FACTOR x a square latent of as many positions,
#: plus WORK_FLOOR symbols (small images).
WORK_FACTOR = 3
WORK_FLOOR = 1 << 18


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
    #: Format 3: "icc", "exif" and/or "xmp" bytes, written back by the decoder (empty: no metadata).
    metadata: dict[str, bytes] = field(default_factory=dict)
    #: Format 4: side of the independently coded latent tiles; None (formats 2 and 3): the whole latent is one.
    tile: int | None = LATENT_TILE


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


# ------------------------------------------------------------------------------------------ shape limits
def latent_size(height: int, width: int) -> tuple[int, int]:
    """Latent height and width of an image: ceil(side / 16)."""
    return -(-height // DOWNSAMPLING), -(-width // DOWNSAMPLING)


def image_size_problem(height: int, width: int) -> str | None:
    """Why an image of ``height`` x ``width`` pixels cannot be carried by the format, or None."""
    if not (1 <= height <= MAX_DIMENSION and 1 <= width <= MAX_DIMENSION):
        return f"{width}x{height}: each side must be 1 .. {MAX_DIMENSION} px"
    if height * width > MAX_PIXELS:
        return f"{width}x{height} is too large ({height * width / 1e6:.0f} MP; the limit is {MAX_PIXELS / 1e6:.0f} MP)"
    return None


def _box_sum(x: np.ndarray, step: int, count: int) -> np.ndarray:
    """y[t] = x[t] + x[t - step] + ... + x[t - (count - 1) step]: x convolved with ``count`` ones ``step`` apart."""
    n = len(x) + step * (count - 1)
    padded = np.zeros(n + step * count, dtype=np.int64)
    padded[step * count : step * count + len(x)] = x
    y = np.empty(n, dtype=np.int64)
    for r in range(step):
        cs = np.cumsum(padded[r::step])
        y[r::step] = (cs[count:] - cs[:-count])[: len(y[r::step])]
    return y


def wavefront_counts(channels: int, height: int, width: int) -> np.ndarray:
    """Symbols on every wavefront t = 4c + 2h + w (0 .. last) of a (channels, height, width) volume."""
    return _box_sum(_box_sum(_box_sum(np.ones(1, dtype=np.int64), 4, channels), 2, height), 1, width)


def wavefront_sizes(channels: int, height: int, width: int) -> np.ndarray:
    """Symbols on each non-empty wavefront t = 4c + 2h + w of a (channels, height, width) volume, in order."""
    sizes = wavefront_counts(channels, height, width)
    return sizes[sizes > 0]


def tile_boxes(latent_height: int, latent_width: int, tile: int | None) -> list[Box]:
    """(h0, h1, w0, w1) of every latent tile, row by row (the coding order of tiles); one box when untiled."""
    if tile is None:
        return [(0, latent_height, 0, latent_width)]
    return [
        (i, min(i + tile, latent_height), j, min(j + tile, latent_width))
        for i in range(0, latent_height, tile)
        for j in range(0, latent_width, tile)
    ]


def segment_symbols(tile: int | None) -> int:
    """The segment length of a format: SEGMENT_SYMBOLS in tiles, UNTILED_SEGMENT_SYMBOLS without."""
    return UNTILED_SEGMENT_SYMBOLS if tile is None else SEGMENT_SYMBOLS


def segment_bounds(sizes: np.ndarray, target: int) -> list[tuple[int, int]]:
    """(first, last + 1) wavefront of every segment: a segment closes at the end of the first wavefront that
    brings it to ``target`` symbols; the last one holds the rest."""
    cum = np.cumsum(sizes)
    bounds, first, before = [], 0, 0
    while first < len(sizes):
        last = int(np.searchsorted(cum, before + target, side="left"))
        last = min(last, len(sizes) - 1)
        bounds.append((first, last + 1))
        first, before = last + 1, int(cum[last])
    return bounds


def tile_runs(channels: int, latent_height: int, latent_width: int, tile: int | None) -> list[list[Box]]:
    """The tiles of a group with ``channels`` channels (:func:`tile_boxes`) cut into runs of consecutive tiles,
    as many per run as RUN_VOXELS zero-padded positions hold (at least one): a run's tiles are coded side by
    side, wavefront by wavefront, in one sequence of segments. Untiled: one run of one tile."""
    boxes = tile_boxes(latent_height, latent_width, tile)
    if tile is None:
        return [boxes]
    block = (channels + 2) * (min(tile, latent_height) + 2) * (min(tile, latent_width) + 2)
    per_run = max(1, RUN_VOXELS // block)
    return [boxes[a : a + per_run] for a in range(0, len(boxes), per_run)]


def run_wavefront_sizes(channels: int, boxes: list[Box]) -> np.ndarray:
    """Symbols on each non-empty wavefront of a run: wavefront t of every tile of the run (tile coordinates)."""
    shapes = Counter((h1 - h0, w1 - w0) for h0, h1, w0, w1 in boxes)
    counts = [n * wavefront_counts(channels, th, tw) for (th, tw), n in shapes.items()]
    total = np.zeros(max(len(c) for c in counts), dtype=np.int64)
    for c in counts:
        total[: len(c)] += c
    return total[total > 0]


def segment_ranges(channels: int, boxes: list[Box], target: int) -> list[tuple[int, int]]:
    """(start, end) symbol ranges, in coding order, of the segments of one run of tiles (``target``:
    :func:`segment_symbols`): one torchac stream each."""
    cum = np.concatenate([[0], np.cumsum(run_wavefront_sizes(channels, boxes))])
    return [(int(cum[first]), int(cum[last])) for first, last in segment_bounds(np.diff(cum), target)]


def stream_counts(groups: list[tuple[int, int]], latent_height: int, latent_width: int, tile: int | None) -> list[int]:
    """Streams of every group: the segments of all its runs of tiles (runs of equal tile shapes computed once)."""
    counts = []
    for _, channels in groups:
        known: dict[tuple, int] = {}
        total = 0
        for run in tile_runs(channels, latent_height, latent_width, tile):
            key = tuple((h1 - h0, w1 - w0) for h0, h1, w0, w1 in run)
            if key not in known:
                known[key] = len(segment_ranges(channels, run, segment_symbols(tile)))
            total += known[key]
        counts.append(total)
    return counts


def decode_work(groups: list[tuple[int, int]], latent_height: int, latent_width: int) -> int:
    """The decoder's work for this latent layout, in the units of WORK_PER_SYMBOL (see FORMAT.md)."""
    work = 0
    for _, channels in groups:
        sizes = wavefront_sizes(channels, latent_height, latent_width)
        cum = np.cumsum(sizes)
        prefix = 0  # the decoder re-decodes its segment's prefix at every wavefront
        for first, last in segment_bounds(sizes, UNTILED_SEGMENT_SYMBOLS):
            before = int(cum[first - 1]) if first else 0
            prefix += int(cum[first:last].sum()) - (last - first) * before
        work += WORK_PER_SYMBOL * int(cum[-1]) + WORK_PER_WAVEFRONT * len(sizes) + WORK_PER_PREFIX_SYMBOL * prefix
    return work


def decode_work_problem(
    groups: list[tuple[int, int]], height: int, width: int, tile: int | None = LATENT_TILE
) -> str | None:
    """Why decoding an untiled latent (formats 2 and 3) of this shape with this group layout would cost out of
    proportion to its pixels (extreme aspect ratios: many tiny wavefronts), or None: at most WORK_FACTOR x the
    work of a square latent with as many positions, plus WORK_FLOOR symbols. Tiled latents (format 4) decode
    in time proportional to their pixels whatever the shape."""
    if tile is not None:
        return None  # tiles bound the wavefronts per tile and are decoded side by side
    lh, lw = latent_size(height, width)
    side = math.isqrt(lh * lw - 1) + 1
    limit = WORK_FACTOR * decode_work(groups, side, side) + WORK_PER_SYMBOL * WORK_FLOOR
    if decode_work(groups, lh, lw) > limit:
        return (
            f"{width}x{height} is too elongated to decode in time proportional to its pixels "
            "(the decoder's wavefronts would be too small; see docs/FORMAT.md, 'Limits')"
        )
    return None


def check_image_shape(
    height: int, width: int, groups: list[tuple[int, int]] | None = None, tile: int | None = LATENT_TILE
) -> None:
    """InputError (exit 3) for an image the format cannot carry; with ``groups`` (a model's layout, as
    :func:`cvqncodec.codec.group_layout`) and no ``tile`` also for one whose decoding would cost out of
    proportion."""
    problem = image_size_problem(height, width)
    if problem is None and groups is not None:
        problem = decode_work_problem(groups, height, width, tile)
    if problem is not None:
        raise InputError(problem)


# ------------------------------------------------------------------------------------------ writing
def pack(header: Header, streams: list[list[bytes]]) -> bytes:
    """Serialize a header and its streams (a list per group), appending the CRC32 of everything before it.

    ValueError for fields out of range; InputError for an image shape the format cannot carry."""
    check_image_shape(header.height, header.width, header.groups, header.tile)
    if len(streams) != len(header.groups) or any(not 1 <= len(g) <= 0xFFFF for g in streams):
        raise ValueError("one or more streams per group")
    header.stream_lengths = [[len(s) for s in g] for g in streams]
    problem = header_problem(header)
    if problem is not None:
        raise ValueError(f"cannot write .cvq header: {problem}")
    name = header.model_name.encode("utf-8")
    out = bytearray(MAGIC)
    out += struct.pack(">BB", header.version, len(name)) + name + header.weights_id
    out += struct.pack(">IIB", header.height, header.width, header.color_channels)
    out += struct.pack(">HHH", header.latent_channels, header.latent_height, header.latent_width)
    if header.version >= 4:
        out += struct.pack(">H", header.tile)
    out += struct.pack(">B", len(header.groups))
    for levels, channels in header.groups:
        out += struct.pack(">BH", levels, channels)
    if header.permutation is None:
        out += struct.pack(">B", 0)
    else:
        out += struct.pack(">B", 1) + struct.pack(f">{len(header.permutation)}H", *header.permutation)
    if header.version >= 3:
        out += pack_metadata(header.metadata)
    for group in streams:
        out += struct.pack(f">H{len(group)}I", len(group), *[len(s) for s in group])
    for group in streams:
        for s in group:
            out += s
    out += struct.pack(">I", zlib.crc32(out))
    return bytes(out)


def with_metadata(data: bytes, metadata: dict[str, bytes]) -> bytes:
    """A .cvq file's bytes with its metadata replaced (``cvq encode`` adds the source's this way, after coding;
    ``{}`` strips it). The streams are kept byte for byte."""
    header, streams = unpack(data)
    header.version, header.metadata = max(header.version, 3), {k: v for k, v in metadata.items() if v}
    return pack(header, streams)


def pack_metadata(metadata: dict[str, bytes]) -> bytes:
    """The metadata section: u8 count, then (u8 tag, u32 length, bytes) per item in ascending tag order."""
    unknown = set(metadata) - set(METADATA_KINDS)
    if unknown:
        raise ValueError(f"unknown metadata kinds {sorted(unknown)}")
    items = sorted((METADATA_KINDS[k], v) for k, v in metadata.items() if v)
    out = bytearray(struct.pack(">B", len(items)))
    for tag, value in items:
        if len(value) > 0xFFFFFFFF:
            raise ValueError("metadata item too large")
        out += struct.pack(">BI", tag, len(value)) + value
    return bytes(out)


# ------------------------------------------------------------------------------------------ reading
def unpack(data: bytes) -> tuple[Header, list[list[bytes]]]:
    """Parse and validate a .cvq file; raises BitstreamError or MismatchError with a one-line reason."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise BitstreamError("not a .cvq file (bad magic bytes)")
    r = _Reader(data)
    r.take(len(MAGIC))
    version, name_len = r.unpack(">BB")
    if version not in READABLE_VERSIONS:
        raise MismatchError(
            f".cvq format version {version} is not supported (this cvq reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    if len(data) < len(MAGIC) + 6 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise BitstreamError("corrupted or truncated .cvq file (CRC32 mismatch)")
    try:
        name = r.take(name_len).decode("utf-8")
    except UnicodeDecodeError:
        raise BitstreamError("corrupted .cvq header (model name)") from None
    weights_id = r.take(WEIGHTS_ID_BYTES)
    height, width, color = r.unpack(">IIB")
    lc, lh, lw = r.unpack(">HHH")
    (tile,) = r.unpack(">H") if version >= 4 else (None,)
    (n_groups,) = r.unpack(">B")
    groups = [r.unpack(">BH") for _ in range(n_groups)]
    (has_perm,) = r.unpack(">B")
    if has_perm not in (0, 1):
        raise BitstreamError("corrupted .cvq header (permutation flag)")
    perm = list(r.unpack(f">{lc}H")) if has_perm == 1 else None
    metadata = _unpack_metadata(r) if version >= 3 else {}
    lengths = []
    for _ in range(n_groups):
        (count,) = r.unpack(">H")
        if count == 0:
            raise BitstreamError("corrupted .cvq header (stream count)")
        lengths.append(list(r.unpack(f">{count}I")))
    header = Header(
        name,
        weights_id,
        height,
        width,
        color,
        lc,
        lh,
        lw,
        [tuple(g) for g in groups],
        perm,
        lengths,
        version,
        metadata,
        tile,
    )
    problem = header_problem(header)
    if problem is not None:
        raise BitstreamError(f"corrupted .cvq header ({problem})")
    problem = decode_work_problem(header.groups, height, width, tile)
    if problem is not None:
        raise BitstreamError(f"unsupported .cvq file: {problem}")
    streams = [[r.take(n) for n in group] for group in lengths]
    if r.pos != len(data) - 4:
        raise BitstreamError("corrupted .cvq file (length mismatch)")
    return header, streams


def _unpack_metadata(r: _Reader) -> dict[str, bytes]:
    """The metadata section; unknown tags are skipped, tag 0 and tags out of ascending order are corrupt."""
    (count,) = r.unpack(">B")
    metadata: dict[str, bytes] = {}
    previous = 0
    for _ in range(count):
        tag, length = r.unpack(">BI")
        if tag <= previous:
            raise BitstreamError("corrupted .cvq header (metadata tags)")
        value = r.take(length)
        previous = tag
        if tag in METADATA_TAGS:
            metadata[METADATA_TAGS[tag]] = value
    return metadata


def header_problem(h: Header) -> str | None:
    """What is inconsistent or out of range in a header, or None (the decoding-cost rule is separate)."""
    name = h.model_name.encode("utf-8")
    if not 1 <= len(name) <= 255:
        return "model name"
    if len(h.weights_id) != WEIGHTS_ID_BYTES:
        return "weights id"
    if h.version not in READABLE_VERSIONS or (h.version < 3 and h.metadata):
        return "version"
    if (h.tile is None) != (h.version < 4) or (h.tile is not None and not TILE_RANGE[0] <= h.tile <= TILE_RANGE[1]):
        return "tile size"
    if image_size_problem(h.height, h.width) is not None:
        return "image size"
    if h.color_channels not in (1, 3):
        return "colour channels"
    if not 1 <= h.latent_channels <= 0xFFFF or not 1 <= len(h.groups) <= 255:
        return "groups"
    if any(not (2 <= q <= 255 and 1 <= c <= 0xFFFF) for q, c in h.groups):
        return "groups"
    if sum(c for _, c in h.groups) != h.latent_channels:
        return "groups"
    if (h.latent_height, h.latent_width) != latent_size(h.height, h.width):
        return "latent size"
    if h.permutation is not None and sorted(h.permutation) != list(range(h.latent_channels)):
        return "permutation"
    if len(h.stream_lengths) != len(h.groups) or any(
        not 1 <= len(g) <= 0xFFFF or any(not 0 <= n <= 0xFFFFFFFF for n in g) for g in h.stream_lengths
    ):
        return "streams"
    return None
