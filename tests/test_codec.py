"""Encode -> bytes -> decode returns exactly the encoder's symbols and reconstruction."""

import pytest
import torch

from cvqncodec import codec, container
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor


def round_trip(loaded, img, enc_threads=None, dec_threads=None):
    before = torch.get_num_threads()
    try:
        if enc_threads:
            torch.set_num_threads(enc_threads)
        enc = codec.encode(loaded, img, reconstruct=True)
        if dec_threads:
            torch.set_num_threads(dec_threads)
        header, streams = container.unpack(enc.data)
        dec, latent = codec.decode(loaded, header, streams)
    finally:
        torch.set_num_threads(before)
    return enc, dec, latent


@pytest.mark.parametrize("size", [(1, 1), (17, 31), (64, 64), (130, 250)])
def test_exact_round_trip(tiny_model, size):
    img = image_tensor(*size, seed=size[0])
    enc, dec, latent = round_trip(tiny_model, img)
    assert dec.shape == img.shape
    for a, b in zip(enc.latent.groups, latent.groups):
        assert torch.equal(a, b)
    assert torch.equal(enc.reconstruction, dec)


def test_exact_round_trip_across_thread_counts(tiny_model):
    img = image_tensor(96, 160, seed=3)
    enc, dec, latent = round_trip(tiny_model, img, enc_threads=1, dec_threads=2)
    for a, b in zip(enc.latent.groups, latent.groups):
        assert torch.equal(a, b)
    enc2, dec2, _ = round_trip(tiny_model, img, enc_threads=2, dec_threads=1)
    assert enc2.data == enc.data  # the bitstream does not depend on the encoder's thread count
    assert torch.equal(dec, dec2)


def test_image_dependent_channel_order_travels_in_the_file(tiny_se_weights):
    loaded = load_weights(tiny_se_weights)
    img = image_tensor(48, 80, seed=5)
    enc, dec, latent = round_trip(loaded, img)
    header, _ = container.unpack(enc.data)
    assert header.permutation == enc.latent.permutation.tolist()
    assert torch.equal(latent.permutation, enc.latent.permutation)
    assert torch.equal(enc.reconstruction, dec)


def test_file_size_matches_model_cross_entropy(tiny_model):
    from cvqncodec.entropy import cdf_bits, encode_group

    img = image_tensor(128, 192, seed=7)
    enc = codec.encode(tiny_model, img)
    header, streams = container.unpack(enc.data)
    ideal = 0.0
    for ev, s in zip(tiny_model.evaluators, enc.latent.groups):
        _, cdf = encode_group(ev, s)
        order, _ = ev.coding_order(tuple(s.shape))
        ideal += cdf_bits(cdf, s.reshape(-1)[order]) / 8
    payload = sum(len(s) for group in streams for s in group)
    assert ideal <= payload <= ideal * 1.01 + 2 * len(streams)


def test_file_from_other_weights_is_refused(tiny_model, tiny_se_weights):
    from cvqncodec.errors import MismatchError

    enc = codec.encode(tiny_model, image_tensor(32, 32))
    header, streams = container.unpack(enc.data)
    with pytest.raises(MismatchError):
        codec.decode(load_weights(tiny_se_weights), header, streams)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run by hand on a GPU machine)")
def test_cuda_and_cpu_compute_identical_cdfs(tiny_model):
    from cvqncodec.context import ExactContextEvaluator

    img = image_tensor(96, 144, seed=4)
    enc = codec.encode(tiny_model, img)
    for cm, sym in zip(tiny_model.model.context_models, enc.latent.groups):
        cpu = ExactContextEvaluator(cm).all_cdfs(sym)
        gpu = ExactContextEvaluator(cm, "cuda")
        assert torch.equal(gpu.all_cdfs(sym, chunk=97), cpu)
        order, _ = gpu.coding_order(tuple(sym.shape))
        in_order = sym.reshape(-1)[order]
        decoded, wave = gpu.run(tuple(sym.shape), lambda _k, a, b, _c, s=in_order: s[a:b])
        assert torch.equal(wave, cpu) and torch.equal(decoded, sym)


def test_a_permutation_for_a_fixed_order_model_is_refused(tiny_model):  # issue #21, item 12
    from cvqncodec.errors import BitstreamError

    header, streams = container.unpack(codec.encode(tiny_model, image_tensor(16, 16)).data)
    header.permutation = list(range(header.latent_channels))[::-1]
    with pytest.raises(BitstreamError, match="fixed channel order"):
        codec.decode(tiny_model, *container.unpack(container.pack(header, streams)))


@pytest.mark.parametrize("threads", [(1, 2), (2, 1)])
def test_latent_tiles_decode_exactly_across_thread_counts(tiny_model, threads, monkeypatch):
    img = image_tensor(40, 1100, seed=5)  # latent 3 x 69: two tiles of the format-4 layout
    enc, dec, latent = round_trip(tiny_model, img, *threads)
    header, streams = container.unpack(enc.data)
    assert header.version == 4 and header.tile == container.LATENT_TILE
    assert [len(g) for g in streams] == [1, 1, 1]  # the two tiles in one run, one segment
    assert all(torch.equal(a, b) for a, b in zip(latent.groups, enc.latent.groups))
    monkeypatch.setattr(container, "RUN_VOXELS", 1)  # one tile per run: another layout, decoded exactly too
    enc, dec, latent = round_trip(tiny_model, img, *threads)
    assert [len(g) for g in container.unpack(enc.data)[1]] == [2, 2, 2]
    assert all(torch.equal(a, b) for a, b in zip(latent.groups, enc.latent.groups))


def test_format_3_files_still_decode():
    from pathlib import Path

    from cvqncodec.entropy import encode_group
    from cvqncodec.zoo import resolve_model

    data = (Path(__file__).parent / "data" / "format3-cvqn-q1.cvq").read_bytes()  # written by cvqncodec 0.2.0
    header, streams = container.unpack(data)
    assert header.version == 3 and header.tile is None
    loaded = load_weights(resolve_model("cvqn-q1"))
    image, latent = codec.decode(loaded, header, streams)
    assert image.shape == (1, 3, 48, 80)
    # The decoded latent, coded again untiled as format 3 did, gives back the file's streams byte for byte.
    assert [encode_group(ev, s, None)[0] for ev, s in zip(loaded.evaluators, latent.groups)] == streams
