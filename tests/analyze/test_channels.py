"""Channel influence (Sec. 2, Eq. 6) and per-channel rate: cvqncodec.analyze.channels."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from cvqncodec.analyze import analyze_images, channel_influence
from cvqncodec.analyze.channels import nanmean
from cvqncodec.metrics import MS_SSIM_MIN_SIDE
from cvqncodec.model import pad_to_multiple
from cvqncodec.train import update_re_importance
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor, make_weights, synthetic_image

SIDE = MS_SSIM_MIN_SIDE  # the smallest image with an MS-SSIM

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def zero_group_model(tiny_model):
    """The tiny model with the quantizers of groups 1 and 3 forced to their middle level, whose mean is
    exactly 0: every channel of these groups is all zero in Z-hat, whatever the image."""
    model = copy.deepcopy(tiny_model.model)
    for g in (0, 2):
        q = model.controller.quantizers[g]
        mid = q.levels // 2
        with torch.no_grad():
            q.mu[mid] = 0.0
            q.pi_logits.fill_(-1e4)
            q.pi_logits[mid] = 1e4
    return model


@pytest.fixture(scope="module")
def zero_group_result(zero_group_model):
    return channel_influence(zero_group_model, image_tensor(SIDE, SIDE, seed=3), rate=True)


def test_zeroing_an_all_zero_channel_costs_exactly_nothing(zero_group_model, zero_group_result):
    r = zero_group_result
    zeroed = (r["group"] != 1).nonzero().flatten().tolist()
    others = (r["group"] == 1).nonzero().flatten().tolist()
    assert len(zeroed) == 4 and len(others) == 4
    assert all(not r["z_hat"][c].any() for c in zeroed)
    for key in ("psnr_loss", "ms_ssim_loss", "ms_ssim_db_loss"):
        assert r[key].shape == (8,)
        assert all(r[key][c].item() == 0.0 for c in zeroed), key
        assert torch.isfinite(r[key][others]).all(), key  # MS-SSIM defined at MS_SSIM_MIN_SIDE px
    assert r["z_hat"][others].any()
    assert 0 < r["base_ms_ssim"].item() < 1 and math.isfinite(r["base_psnr"].item())


def test_re_importance_of_eq6_is_the_same_computation(zero_group_model, zero_group_result):
    model = copy.deepcopy(zero_group_model)
    crop = synthetic_image(SIDE, SIDE, seed=3)
    update_re_importance(model, [crop], torch.device("cpu"), size=SIDE)
    expected = zero_group_result["ms_ssim_loss"].float()
    assert torch.equal(model.controller.re_importance, expected)


def test_channel_bits_add_up_to_the_context_model_estimate(tmp_path):
    loaded = load_weights(make_weights(tmp_path / "re.safetensors", importance="re", seed=1))
    model = loaded.model
    ctrl = model.controller
    image = image_tensor(40, 72, seed=2)
    r = channel_influence(model, image, rate=True)
    perm = ctrl.fixed_order()
    assert torch.equal(r["permutation"], perm)
    assert not torch.equal(perm, torch.arange(8))  # a real permutation is exercised

    symbols = [s[None] for s in model.quantize(pad_to_multiple(image)).groups]
    values = ctrl.dequantize_groups(symbols)
    total, offset = 0.0, 0
    for g, (levels, cm, v, s) in enumerate(zip(ctrl.levels, model.context_models, values, symbols)):
        bps = cm.bits_per_symbol(v, s)[0].double()
        total += bps.sum().item()
        for j in range(s.shape[1]):
            c = perm[offset + j].item()
            assert r["group"][c] == g and r["levels"][c] == levels
            assert r["bits"][c].item() == pytest.approx(bps[j].sum().item(), rel=1e-9)
        offset += s.shape[1]
    assert r["bits"].sum().item() == pytest.approx(total, rel=1e-9)
    assert (r["bits"] > 0).all()


@pytest.mark.parametrize("h,w,grey", [(1, 1, False), (17, 33, True)])
def test_any_size_and_greyscale(tiny_model, h, w, grey):
    r = channel_influence(tiny_model.model, image_tensor(h, w), rate=True, color_channels=1 if grey else 3)
    assert torch.isfinite(r["psnr_loss"]).all() and torch.isfinite(r["bits"]).all()
    assert torch.isnan(r["ms_ssim_loss"]).all() and torch.isnan(r["ms_ssim_db_loss"]).all()
    assert math.isnan(r["base_ms_ssim"].item())
    assert r["z_hat"].shape == (8, math.ceil(h / 16), math.ceil(w / 16))


def test_averages_over_images(tiny_model):
    model = tiny_model.model
    a, b = image_tensor(20, 30, seed=1), image_tensor(33, 17, seed=2)
    s = analyze_images(model, [("a", a, 3), ("b", b, 3)])
    ra, rb = channel_influence(model, a, rate=True), channel_influence(model, b, rate=True)
    assert torch.allclose(s.bits, (ra["bits"] + rb["bits"]) / 2)
    assert torch.allclose(s.psnr_loss, (ra["psnr_loss"] + rb["psnr_loss"]) / 2)
    assert torch.isnan(s.ms_ssim_db_loss).all() and s.ms_ssim_images == 0
    assert sum(s.group_bits) == pytest.approx(s.total_bits)
    assert s.bpp == pytest.approx((ra["bits"].sum() / 600 + rb["bits"].sum() / 561).item() / 2)
    assert s.names == ["a", "b"] and s.sizes == [(30, 20), (17, 33)]


def test_no_images_is_an_error(tiny_model):
    with pytest.raises(ValueError):
        analyze_images(tiny_model.model, [])


def test_nan_mean_uses_the_images_where_ms_ssim_is_defined():
    nan = float("nan")
    m = nanmean(
        [torch.tensor([1.0, nan, nan], dtype=torch.float64), torch.tensor([3.0, 2.0, nan], dtype=torch.float64)]
    )
    assert m[0].item() == 2.0 and m[1].item() == 2.0 and math.isnan(m[2].item())
