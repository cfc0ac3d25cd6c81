import struct
import time
import zlib

import pytest

from cvqncodec import container
from cvqncodec.errors import BitstreamError, InputError, MismatchError

#: A format-2 file (no metadata section) as cvqncodec wrote it before format 3: still read.
V2_FILE = bytes.fromhex(
    "894356510d0a1a0a020974696e792d7465737401020304050607080000001f00000011030008000200020303000205000407000201"
    "000700060005000400030002000100000001000000030002000000000000000200010000000a6162637879ffffffffffffffffffff"
    "68a41642"
)
TINY_GROUPS = [(3, 2), (5, 4), (7, 2)]


def sample(perm=None, metadata=None):
    h = container.Header("tiny-test", b"\x01\x02\x03\x04\x05\x06\x07\x08", 31, 17, 3, 8, 2, 2, list(TINY_GROUPS), perm)
    h.metadata = metadata or {}
    return h, [[b"abc"], [b"", b"xy"], [b"\xff" * 10]]


def with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def test_round_trip():
    for perm in (None, [7, 6, 5, 4, 3, 2, 1, 0]):
        h, streams = sample(perm)
        data = container.pack(h, streams)
        h2, s2 = container.unpack(data)
        assert s2 == streams
        assert (h2.height, h2.width, h2.groups, h2.permutation, h2.model_name, h2.weights_id) == (
            31,
            17,
            [(3, 2), (5, 4), (7, 2)],
            perm,
            "tiny-test",
            h.weights_id,
        )
        assert h2.stream_lengths == [[3], [0, 2], [10]]
        assert h2.version == container.FORMAT_VERSION == 4 and h2.metadata == {} and h2.tile == container.LATENT_TILE


def test_metadata_round_trip_and_costs_one_byte_without_it():
    meta = {"icc": b"\x00" * 300, "exif": b"MM\x00*\x00\x00\x00\x08", "xmp": b"<x:xmpmeta/>"}
    data = container.pack(*sample(metadata=meta))
    h, streams = container.unpack(data)
    assert h.metadata == meta and streams == sample()[1]
    plain = container.pack(*sample())
    h2, streams2 = sample()
    h2.version, h2.tile = 2, None
    assert len(plain) == len(container.pack(h2, streams2)) + 1 + 2  # the metadata count byte, the tile side
    assert len(data) == len(plain) + sum(5 + len(v) for v in meta.values())


def test_format_2_files_are_still_read():
    h, streams = container.unpack(V2_FILE)
    assert h.version == 2 and h.metadata == {} and h.permutation == [7, 6, 5, 4, 3, 2, 1, 0]
    assert streams == sample()[1]
    assert h.tile is None  # one tile: the whole latent
    assert container.pack(h, streams) == V2_FILE  # and written, for tests and tools
    h.version = 3
    h3, _ = container.unpack(container.pack(h, streams))
    assert h3.version == 3 and h3.tile is None


def test_the_tile_side_is_range_checked():
    for tile, version in ((None, 4), (15, 4), (257, 4), (64, 3)):
        h, streams = sample()
        h.tile, h.version = tile, version
        with pytest.raises(ValueError, match="tile size"):
            container.pack(h, streams)
    data = bytearray(container.pack(*sample()))
    at = len(container.MAGIC) + 2 + len("tiny-test") + 8 + 9 + 6
    assert struct.unpack(">H", data[at : at + 2]) == (container.LATENT_TILE,)
    data[at : at + 2] = struct.pack(">H", 8)
    with pytest.raises(BitstreamError, match="tile size"):
        container.unpack(with_crc(bytes(data[:-4])))


@pytest.mark.parametrize("version", [0, 1, 5, 255])
def test_other_format_versions_are_a_mismatch(version):
    data = bytearray(container.pack(*sample()))
    data[len(container.MAGIC)] = version
    with pytest.raises(MismatchError, match=f"version {version} is not supported.*2, 3, 4"):
        container.unpack(bytes(data))


def test_unknown_metadata_tags_are_skipped_and_bad_ones_refused():
    plain = container.pack(*sample())
    at = plain.index(b"\x00\x00\x00\x01\x00\x00\x00\x03")  # permutation flag, metadata count 0, 1 stream: 3 bytes
    head, tail = plain[: at + 1], plain[at + 2 : -4]

    def file_with(items: list[tuple[int, bytes]]) -> bytes:
        section = bytes([len(items)]) + b"".join(struct.pack(">BI", t, len(v)) + v for t, v in items)
        return with_crc(head + section + tail)

    h, _ = container.unpack(file_with([(1, b"icc!"), (77, b"future"), (200, b"")]))
    assert h.metadata == {"icc": b"icc!"}
    for items in ([(0, b"x")], [(2, b"a"), (2, b"b")], [(3, b"a"), (1, b"b")]):
        with pytest.raises(BitstreamError, match="metadata tags"):
            container.unpack(file_with(items))
    with pytest.raises(BitstreamError):  # a length beyond the file
        container.unpack(with_crc(head + b"\x01\x01\xff\xff\xff\xff" + tail))


def test_every_truncation_is_a_clean_error():
    data = container.pack(*sample(metadata={"xmp": b"<x/>"}))
    for n in range(len(data)):
        with pytest.raises((BitstreamError, MismatchError)):
            container.unpack(data[:n])


def test_every_single_bit_flip_is_detected():
    data = container.pack(*sample([1, 0, 2, 3, 4, 5, 6, 7], {"icc": b"\x01\x02"}))
    for i in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises((BitstreamError, MismatchError)):
                container.unpack(bytes(bad))


def test_foreign_file_is_not_cvq():
    with pytest.raises(BitstreamError, match="not a .cvq"):
        container.unpack(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(BitstreamError):
        container.unpack(b"")


def test_empty_model_name_is_refused():  # issue #21, item 12: it used to pick the default model
    h, streams = sample()
    h.model_name = ""
    with pytest.raises(ValueError, match="model name"):
        container.pack(h, streams)
    data = container.pack(*sample())
    body = data[:9] + b"\x00" + data[10 + len("tiny-test") : -4]
    with pytest.raises(BitstreamError, match="model name"):
        container.unpack(with_crc(body))


def test_every_header_field_is_range_checked_before_encoding():  # issue #21, item 6
    with pytest.raises(InputError, match="1 .. 1048560"):
        container.check_image_shape(1, 1_100_000)  # used to fail in struct.pack after a 24 s encode
    with pytest.raises(InputError, match="1 .. 1048560"):
        container.check_image_shape(1_048_561, 1)  # its latent height, 65536, does not fit a u16
    with pytest.raises(InputError, match="too large"):
        container.check_image_shape(8000, 8000)
    container.check_image_shape(1, container.MAX_DIMENSION)
    assert container.latent_size(1, container.MAX_DIMENSION) == (1, 0xFFFF)
    for change in ({"color_channels": 2}, {"groups": [(1, 2), (5, 4), (7, 2)]}, {"groups": [(256, 2)] * 3}):
        h, streams = sample()
        for k, v in change.items():
            setattr(h, k, v)
        with pytest.raises(ValueError, match="cannot write"):
            container.pack(h, streams)


def test_wavefronts_and_segments_match_the_coder():
    from cvqncodec.context import tile_order

    for shape in [(1, 1, 1), (16, 1, 1), (3, 5, 7), (8, 3, 40), (5, 40, 3), (2, 70, 90)]:
        _, sizes = tile_order(shape)
        assert container.wavefront_sizes(*shape).tolist() == sizes.tolist()
        ends = set(sizes.cumsum(0).tolist())
        for target in (1, 7, 100, 1 << 16):
            ranges = container.segment_ranges(shape[0], [(0, shape[1], 0, shape[2])], target)
            assert ranges[0][0] == 0 and ranges[-1][1] == sizes.sum()
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            assert all(b in ends for _, b in ranges)  # whole wavefronts
            assert all(b - a >= target for a, b in ranges[:-1])
            assert all(b - a < target + max(sizes) for a, b in ranges)


def test_tiles_cover_the_latent_row_by_row():
    assert container.tile_boxes(5, 7, None) == [(0, 5, 0, 7)]
    assert container.tile_boxes(70, 130, 64) == [
        (0, 64, 0, 64), (0, 64, 64, 128), (0, 64, 128, 130), (64, 70, 0, 64), (64, 70, 64, 128), (64, 70, 128, 130)
    ]  # fmt: skip
    # Runs: all six tiles of a 2-channel group fit one run (one segment); 40 channels: runs of five tiles and one.
    assert [len(r) for r in container.tile_runs(40, 70, 130, 64)] == [5, 1]
    assert container.stream_counts([(3, 2), (5, 40)], 70, 130, 64) == [2, 23]
    from cvqncodec.context import ExactContextEvaluator

    _, sizes = ExactContextEvaluator.coding_order((3, 37, 45), 16)
    assert sizes[0].tolist() == container.run_wavefront_sizes(3, container.tile_boxes(37, 45, 16)).tolist()


def craft(height: int, width: int, groups=TINY_GROUPS, tile: int | None = None) -> bytes:
    """A self-consistent file claiming height x width (one tiny stream per segment), written without the
    encoder's checks, as a hostile file would be; version 3 (untiled) unless ``tile``."""
    lh, lw = container.latent_size(height, width)
    streams = [[b"\x00"] * n for n in container.stream_counts(groups, lh, lw, tile)]
    h = container.Header("tiny-test", b"\x00" * 8, height, width, 3, sum(c for _, c in groups), lh, lw, list(groups))
    h.version, h.tile = (3, None) if tile is None else (4, tile)
    saved = container.decode_work_problem
    container.decode_work_problem = lambda *args: None
    try:
        return container.pack(h, streams)
    finally:
        container.decode_work_problem = saved


@pytest.mark.parametrize("height, width", [(38, 1_048_560), (1_048_560, 38), (16, 400_000), (2, 1_000_000)])
def test_elongated_untiled_claims_are_refused_at_once(height, width):  # issue #21, item 5
    data = craft(height, width)
    assert len(data) < 3000
    start = time.perf_counter()
    with pytest.raises(BitstreamError, match="too elongated"):
        container.unpack(data)
    assert time.perf_counter() - start < 1.0
    with pytest.raises(InputError, match="too elongated"):  # the rule of formats 2 and 3
        container.check_image_shape(height, width, TINY_GROUPS, tile=None)
    container.check_image_shape(height, width, TINY_GROUPS)  # tiles (format 4) make any shape proportional
    h, _ = container.unpack(craft(height, width, tile=container.LATENT_TILE))
    assert (h.height, h.width, h.tile) == (height, width, container.LATENT_TILE)


@pytest.mark.parametrize(
    "height, width", [(1, 1), (16, 16), (1024, 1024), (6000, 6000), (16, 10_000), (200, 12_800), (1000, 30_000)]
)
def test_ordinary_and_panorama_shapes_are_accepted(height, width):
    container.check_image_shape(height, width, TINY_GROUPS)
    container.check_image_shape(height, width, [(3, 8), (5, 16), (7, 8)])  # cvqn-q3's layout
    h, _ = container.unpack(craft(height, width))
    assert (h.height, h.width) == (height, width)


def test_metadata_is_added_after_coding_without_touching_the_streams():  # item 2
    data = container.pack(*sample([7, 6, 5, 4, 3, 2, 1, 0]))
    tagged = container.with_metadata(data, {"icc": b"profile", "exif": b""})
    h, streams = container.unpack(tagged)
    assert h.metadata == {"icc": b"profile"} and streams == sample()[1] and h.permutation == [7, 6, 5, 4, 3, 2, 1, 0]
    assert container.with_metadata(tagged, {}) == data
    assert container.with_metadata(V2_FILE, {})[len(container.MAGIC)] == 3  # untiled streams: version 3
