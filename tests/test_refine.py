"""RD-optimized encoding (cvqncodec.refine): exact decoding, never a higher real cost, model untouched."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from cvqncodec import codec, container
from cvqncodec.metrics import rgb_to_chroma
from cvqncodec.model import pad_to_multiple
from cvqncodec.refine import EFFORT_STEPS, RefineSettings, real_cost, refine
from cvqncodec.tiling import DEFAULT_TILING, Tiling
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor

SMALL_TILES = Tiling(tile=3, halo=2)


def settings(steps: int, **kw) -> RefineSettings:
    return RefineSettings(steps=steps, lr=kw.pop("lr", 0.05), **kw)


def decode(loaded, data: bytes, tiling: Tiling = DEFAULT_TILING):
    header, streams = container.unpack(data)
    return codec.decode(loaded, header, streams, tiling=tiling)


def assert_quantizes_to(loaded, z: torch.Tensor, latent) -> None:
    q = loaded.model.quantize_latent(z)
    assert torch.equal(q.permutation, latent.permutation)
    assert all(torch.equal(a, b) for a, b in zip(q.groups, latent.groups))


@pytest.mark.parametrize("method", ["ste", "sga"])
def test_refined_file_decodes_exactly_and_costs_less(tiny_model, one_thread, method):
    img = image_tensor(100, 140, seed=1)
    enc = codec.encode(tiny_model, img, reconstruct=True, refine=settings(6, method=method))
    image, latent = decode(tiny_model, enc.data)
    assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
    assert torch.equal(image, enc.reconstruction)
    r = enc.refinement
    assert r is not None and r.steps == 6 and r.windows == 1
    x = pad_to_multiple(img)
    plain = real_cost(tiny_model, x, tiny_model.model.quantize(x), settings(0), img.shape[-2:])
    assert r.start == plain  # iterate 0 is the plain encode, costed exactly as real_cost does
    assert r.best == real_cost(tiny_model, x, enc.latent, settings(0), img.shape[-2:])
    assert r.best.total < plain.total  # the tiny model does improve in 6 steps at this rate
    assert_quantizes_to(tiny_model, r.z, enc.latent)  # the refined Z is what the file codes


def test_higher_effort_never_costs_more(tiny_model, one_thread):
    img = image_tensor(80, 96, seed=2)
    x = pad_to_multiple(img)
    costs = [refine(tiny_model, x, RefineSettings.for_effort(e, lr=0.2)).best.total for e in (1, 2, 3, 4)]
    assert all(b <= a for a, b in zip(costs, costs[1:]))
    assert list(EFFORT_STEPS) == list(range(1, 10)) and EFFORT_STEPS[1] == 0
    assert sorted(EFFORT_STEPS.values()) == list(EFFORT_STEPS.values())


def test_effort_one_is_the_plain_encode(tiny_model):
    img = image_tensor(48, 64, seed=3)
    enc = codec.encode(tiny_model, img, refine=RefineSettings.for_effort(1))
    assert enc.refinement is None and enc.data == codec.encode(tiny_model, img).data


@pytest.mark.parametrize("method", ["ste", "sga"])
def test_windowed_refinement_decodes_exactly(tiny_model, one_thread, method):
    img = image_tensor(100, 140, seed=4)  # latent 7 x 9: nine windows of a 3 x 3 tiling
    calls = []
    enc = codec.encode(
        tiny_model,
        img,
        reconstruct=True,
        tiling=SMALL_TILES,
        refine=settings(3, method=method),
        progress=lambda done, total: calls.append((done, total)),
    )
    r = enc.refinement
    assert r.windows == 9 and r.steps == 27 and calls[-1] == (27, 27)
    image, latent = decode(tiny_model, enc.data, SMALL_TILES)
    assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
    assert torch.equal(image, enc.reconstruction)
    x = pad_to_multiple(img)
    assert r.best == real_cost(tiny_model, x, enc.latent, settings(0), img.shape[-2:], SMALL_TILES)
    assert r.best.total <= r.start.total
    assert_quantizes_to(tiny_model, r.z, enc.latent)


def test_model_is_left_unchanged(tiny_weights, one_thread):
    loaded = load_weights(tiny_weights)
    model = loaded.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    refine(loaded, pad_to_multiple(image_tensor(64, 80, seed=5)), settings(3, method="sga", bf16=True))
    assert model.training
    model.eval()
    refine(loaded, pad_to_multiple(image_tensor(64, 80, seed=5)), settings(2), tiling=SMALL_TILES)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_se_importance_model(tiny_se_weights, one_thread):
    loaded = load_weights(tiny_se_weights)
    img = image_tensor(64, 96, seed=6)
    for tiling in (DEFAULT_TILING, SMALL_TILES):
        enc = codec.encode(loaded, img, tiling=tiling, refine=settings(2))
        _, latent = decode(loaded, enc.data, tiling)
        assert torch.equal(latent.permutation, enc.latent.permutation)
        assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
        assert enc.refinement.best.total <= enc.refinement.start.total


def test_tiny_images(tiny_model, one_thread):
    for size in [(1, 1), (17, 31)]:  # too small for MS-SSIM: MSE and rate only
        img = image_tensor(*size, seed=7)
        enc = codec.encode(tiny_model, img, refine=settings(2))
        _, latent = decode(tiny_model, enc.data)
        assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
        assert enc.refinement.best.ms_ssim is None


def test_distortion_has_the_card_s_chroma_term(tiny_model):
    """--effort optimizes the loss the model was trained on: a card's chroma_weight adds its Cb/Cr MSE term."""
    img = image_tensor(64, 64, seed=8)
    x = pad_to_multiple(img)
    latent = tiny_model.model.quantize(x)
    plain = real_cost(tiny_model, x, latent, settings(0))
    x_hat = tiny_model.model.reconstruct(latent, x.device).clamp(0, 1)
    chroma_mse = float(torch.mean(rgb_to_chroma(x_hat - x) ** 2))
    with_chroma = replace(tiny_model, card={**tiny_model.card, "chroma_weight": 500.0})
    cost = real_cost(with_chroma, x, latent, settings(0))
    assert chroma_mse > 0 and cost.distortion == pytest.approx(plain.distortion + 500.0 * chroma_mse, rel=1e-5)
    assert real_cost(with_chroma, x, latent, settings(0, chroma_weight=0.0)) == plain  # settings override the card


def test_rate_is_weighed_by_the_card_s_lambda(tiny_model):
    """A model trained with ``cvq train --rate-weight L`` is refined for its own trade-off: settings x L."""
    x = pad_to_multiple(image_tensor(48, 48, seed=9))
    latent = tiny_model.model.quantize(x)
    plain = real_cost(tiny_model, x, latent, settings(0, rate_weight=0.5))
    cost = real_cost(
        replace(tiny_model, card={**tiny_model.card, "rate_weight": 4.0}), x, latent, settings(0, rate_weight=0.5)
    )
    assert cost.rate == plain.rate > 0 and cost.total == pytest.approx(plain.distortion + 2.0 * plain.rate)


def test_bad_settings():
    with pytest.raises(ValueError):
        RefineSettings(method="round")
    with pytest.raises(ValueError):
        RefineSettings.for_effort(0)
