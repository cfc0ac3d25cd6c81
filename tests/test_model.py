"""The CVQN network (Fig. 2): training forward and the coding-side quantize / reconstruct."""

import torch

from cvqncodec.model import CVQN, latent_bpp, pad_to_multiple
from cvqncodec.presets import DOWNSAMPLING, get_preset
from tests.helpers import image_tensor


def test_pad_to_multiple_replicates_the_last_row_and_column():
    x = image_tensor(17, 33)
    y = pad_to_multiple(x)
    assert y.shape[-2:] == (32, 48)
    assert torch.equal(y[..., :17, :33], x)
    assert torch.equal(y[..., 20, :33], x[..., 16, :]) and torch.equal(y[..., :17, 40], x[..., :, 32])
    assert pad_to_multiple(y) is y


def test_latent_bpp_weights_each_group_by_its_channels():
    bits = torch.tensor([1.0, 2.0, 0.5])
    assert float(latent_bpp(bits, (2, 4, 2))) == (2 * 1.0 + 4 * 2.0 + 2 * 0.5) / DOWNSAMPLING**2


def test_forward_shapes_and_rate_estimate():
    torch.manual_seed(0)
    model = CVQN(get_preset("tiny"))
    out = model(image_tensor(32, 48))
    assert out.x_hat.shape == (1, 3, 32, 48)
    assert len(out.group_bits) == 3 and torch.isfinite(out.gmm_nll)
    assert torch.allclose(out.bpp, latent_bpp(torch.stack(out.group_bits), model.controller.group_channels))


def test_quantize_gives_in_range_symbols_that_reconstruct_like_the_forward(monkeypatch):
    monkeypatch.setenv("CVQ_PRECISION", "float32")  # the forward pass is float32
    torch.manual_seed(0)
    model = CVQN(get_preset("tiny")).eval()
    x = image_tensor(32, 48)
    latent = model.quantize(x)
    assert [g.shape for g in latent.groups] == [(c, 2, 3) for c in model.controller.group_channels]
    assert all(int(g.max()) < q for g, q in zip(latent.groups, model.controller.levels))
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(latent), model(x).x_hat.clamp(0, 1), atol=1e-5)
