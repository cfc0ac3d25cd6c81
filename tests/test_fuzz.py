"""Mutated .cvq files: every outcome is a decoded image or a clean CvqError (never another exception).

Half of the mutants get a fresh CRC32, so that corrupted headers and payloads reach the parser's
consistency checks and the arithmetic decoder instead of stopping at the checksum.
"""

import struct
import zlib

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cvqncodec import codec, container
from cvqncodec.errors import CvqError
from tests.helpers import image_tensor

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sample(tiny_model):
    return codec.encode(tiny_model, image_tensor(40, 56, seed=11)).data


def decode_bytes(loaded, data: bytes):
    header, streams = container.unpack(data)
    return codec.decode(loaded, header, streams)


def with_crc(data: bytes) -> bytes:
    body = data[:-4]
    return body + struct.pack(">I", zlib.crc32(body))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_files_fail_cleanly(tiny_model, sample, data):
    buf = bytearray(sample)
    kind = data.draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete"]))
    pos = data.draw(st.integers(0, len(buf) - 1))
    if kind == "flip":
        buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "byte":
        buf[pos] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        del buf[pos:]
    elif kind == "insert":
        buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del buf[pos : pos + data.draw(st.integers(1, 8))]
    mutant = bytes(buf)
    if data.draw(st.booleans()) and len(mutant) > 4:
        mutant = with_crc(mutant)
    try:
        image, _ = decode_bytes(tiny_model, mutant)
    except CvqError:
        return
    assert image.shape[0] == 1 and image.shape[1] == 3 and torch.isfinite(image).all()


def test_huge_claimed_size_is_refused_before_allocating(tiny_model, sample):
    header, streams = container.unpack(sample)
    header.height = header.width = 60000  # 3.6 gigapixels
    header.latent_height = header.latent_width = 3750
    with pytest.raises(CvqError, match="too large"):  # the writer refuses it
        container.pack(header, streams)
    at = len(container.MAGIC) + 2 + len(header.model_name.encode()) + container.WEIGHTS_ID_BYTES
    body = bytearray(sample[:-4])
    body[at : at + 8] = struct.pack(">II", 60000, 60000)
    body[at + 9 + 2 : at + 9 + 6] = struct.pack(">HH", 3750, 3750)
    with pytest.raises(CvqError, match="image size"):  # and the reader, before allocating anything
        container.unpack(with_crc(bytes(body) + b"\0\0\0\0"))


def consistent_file(sample: bytes, height: int, width: int, streams: list[bytes], tiled: bool = False) -> bytes:
    """``sample`` claiming another size, with the latent size and every group's stream count to match (one
    stream per segment), streams cycled from ``streams``, lengths and CRC recomputed: what bench/fuzz.py's
    structure mode makes, and what item 5 of issue #21 showed blind mutations never make."""
    header, _ = container.unpack(sample)
    header.height, header.width = height, width
    header.latent_height, header.latent_width = container.latent_size(height, width)
    header.version, header.tile = (4, container.LATENT_TILE) if tiled else (3, None)
    out = []
    for n in container.stream_counts(header.groups, header.latent_height, header.latent_width, header.tile):
        out.append([streams[(len(out) + i) % len(streams)] for i in range(n)])
    saved = container.decode_work_problem
    container.decode_work_problem = lambda *args: None  # written as a hostile file would be
    try:
        return container.pack(header, out)
    finally:
        container.decode_work_problem = saved


def decodes_or_fails_cleanly_in_time(tiny_model, data: bytes, height: int, width: int) -> None:
    import time

    start = time.perf_counter()
    try:
        image, _ = decode_bytes(tiny_model, data)
    except CvqError:
        assert time.perf_counter() - start < 2.0
        return
    assert image.shape == (1, 3, height, width) and torch.isfinite(image).all()
    # accepted shapes decode at a bounded cost per pixel
    assert time.perf_counter() - start < 2.0 + 20e-6 * height * width


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    long_side=st.integers(1, container.MAX_DIMENSION),
    short_side=st.integers(1, 64),
    tall=st.booleans(),
    streams=st.lists(st.binary(max_size=40), min_size=1, max_size=4),
)
def test_self_consistent_untiled_claims_decode_or_fail_cleanly_in_time(
    tiny_model, sample, long_side, short_side, tall, streams
):
    """Format 3 (one tile): a 64 x 1 048 560 claim is refused as too elongated, not decoded."""
    height, width = (long_side, short_side) if tall else (short_side, long_side)
    assume(container.image_size_problem(height, width) is None)  # a writer cannot make larger ones
    decodes_or_fails_cleanly_in_time(tiny_model, consistent_file(sample, height, width, streams), height, width)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    long_side=st.integers(1, 40_000),
    short_side=st.integers(1, 48),
    tall=st.booleans(),
    streams=st.lists(st.binary(max_size=40), min_size=1, max_size=4),
)
def test_self_consistent_tiled_claims_of_any_shape_decode_in_time(
    tiny_model, sample, long_side, short_side, tall, streams
):
    """Format 4: every shape is accepted and costs in proportion to its pixels."""
    height, width = (long_side, short_side) if tall else (short_side, long_side)
    data = consistent_file(sample, height, width, streams, tiled=True)
    decodes_or_fails_cleanly_in_time(tiny_model, data, height, width)
