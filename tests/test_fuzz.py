"""Mutated .cvq files: every outcome is a decoded image or a clean CvqError (never another exception).

Half of the mutants get a fresh CRC32, so that corrupted headers and payloads reach the parser's
consistency checks and the arithmetic decoder instead of stopping at the checksum.
"""

import struct
import zlib

import pytest
import torch
from hypothesis import HealthCheck, given, settings
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
    with pytest.raises(CvqError, match="image size"):
        container.unpack(container.pack(header, streams))
