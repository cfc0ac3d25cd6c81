"""Tiled transforms: bounded memory on large images, and the latent survives any tile layout."""

import torch
import torch.nn.functional as F

from cvqncodec import codec, container
from cvqncodec.metrics import psnr
from cvqncodec.tiling import Tiling, spans, tiled
from tests.helpers import image_tensor


def test_spans_cover_the_range_once():
    assert spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert spans(3, 8) == [(0, 3)]


def test_tiles_with_enough_halo_equal_the_whole_image_pass():
    torch.manual_seed(0)
    w1, w2 = torch.randn(4, 2, 3, 3).double(), torch.randn(3, 4, 3, 3).double()

    def local(x):  # two 3x3 convolutions at 2x upsampling: receptive radius 2 input pixels
        y = F.conv2d(F.conv2d(x, w1, padding=1).relu(), w2, padding=1)
        return F.interpolate(y, scale_factor=2, mode="nearest")

    x = torch.randn(1, 2, 13, 22, dtype=torch.float64)
    whole = local(x)
    out = tiled(local, x, 1, 2, 3, Tiling(tile=5, halo=2))
    assert torch.allclose(out, whole, atol=1e-10)
    assert not torch.allclose(tiled(local, x, 1, 2, 3, Tiling(tile=5, halo=0)), whole, atol=1e-3)
    calls = []

    def counted(x):
        calls.append(x.shape[0])
        return local(x)

    strips = torch.randn(2, 2, 3, 40, dtype=torch.float64)  # two thin images: 8 tiles each, small crops
    assert torch.allclose(tiled(counted, strips, 1, 2, 3, Tiling(tile=5, halo=2)), local(strips), atol=1e-10)
    assert len(calls) < 8 and sum(calls) == 2 * 8  # crops of one size stacked, up to a full tile's pixels


def test_decoder_recovers_the_latent_whatever_the_tile_layouts(tiny_model):
    img = image_tensor(100, 150, seed=11)  # latent 7 x 10
    enc = codec.encode(tiny_model, img, tiling=Tiling(tile=3, halo=1), reconstruct=True)
    header, streams = container.unpack(enc.data)
    untiled, latent = codec.decode(tiny_model, header, streams, tiling=Tiling(tile=1000))
    for a, b in zip(enc.latent.groups, latent.groups):
        assert torch.equal(a, b)
    tiled_dec, latent2 = codec.decode(tiny_model, header, streams, tiling=Tiling(tile=4, halo=3))
    for a, b in zip(enc.latent.groups, latent2.groups):
        assert torch.equal(a, b)
    assert torch.equal(codec.decode(tiny_model, header, streams, tiling=Tiling(tile=3, halo=1))[0], enc.reconstruction)
    assert psnr(tiled_dec, untiled) > 30  # seams: only the per-tile channel-attention pooling differs
