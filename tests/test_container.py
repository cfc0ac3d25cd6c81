import pytest

from cvqncodec import container
from cvqncodec.errors import BitstreamError, MismatchError


def sample(perm=None):
    h = container.Header(
        "tiny-test", b"\x01\x02\x03\x04\x05\x06\x07\x08", 31, 17, 3, 8, 2, 2, [(3, 2), (5, 4), (7, 2)], perm
    )
    return h, [[b"abc"], [b"", b"xy"], [b"\xff" * 10]]


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


def test_every_truncation_is_a_clean_error():
    data = container.pack(*sample())
    for n in range(len(data)):
        with pytest.raises((BitstreamError, MismatchError)):
            container.unpack(data[:n])


def test_every_single_bit_flip_is_detected():
    data = container.pack(*sample([1, 0, 2, 3, 4, 5, 6, 7]))
    for i in range(len(data)):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            with pytest.raises((BitstreamError, MismatchError)):
                container.unpack(bytes(bad))


def test_other_format_version_is_a_mismatch():
    data = bytearray(container.pack(*sample()))
    for other in (1, 3):  # 1: the float32-probability files of cvqncodec 0.1
        data[len(container.MAGIC)] = other
        with pytest.raises(MismatchError, match=f"version {other}"):
            container.unpack(bytes(data))


def test_foreign_file_is_not_cvq():
    with pytest.raises(BitstreamError, match="not a .cvq"):
        container.unpack(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(BitstreamError):
        container.unpack(b"")
