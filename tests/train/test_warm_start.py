"""Warm starts from an --init model: matching and widened tensors, latent channels, quantization levels."""

from __future__ import annotations

import torch

from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.train import group_channel_map, level_map, warm_start, warm_start_levels
from cvqncodec.train.warm_start import latent_channel_map
from tests.helpers import image_tensor


def test_group_channel_map_keeps_levels():
    assert group_channel_map((8, 16, 8), (4, 8, 4)) == [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27]
    assert group_channel_map((2, 4, 2), (3, 4, 3)) == [0, 1, -1, 2, 3, 4, 5, 6, 7, -1]


def test_warm_start_copies_matching_and_overlapping_tensors():
    torch.manual_seed(0)
    src = CVQN(get_preset("tiny", latent_channels=8)).state_dict()
    dst_model = CVQN(get_preset("tiny", latent_channels=12))
    own = dst_model.state_dict()
    copied, partial = warm_start(own, src)
    assert partial >= 2 and copied > 0
    assert torch.equal(own["encoder.tail.weight"][:8], src["encoder.tail.weight"])
    assert torch.equal(own["decoder.head.weight"][:, :8], src["decoder.head.weight"])
    assert torch.equal(own["decoder.tail.weight"], src["decoder.tail.weight"])
    own = CVQN(get_preset("tiny", latent_channels=12)).state_dict()
    warm_start(own, src, [0, 1, -1, 2, 3, 4, 5, -1, -1, 6, 7, -1])
    assert torch.equal(own["encoder.tail.weight"][9], src["encoder.tail.weight"][6])
    assert torch.equal(own["decoder.head.weight"][:, 3], src["decoder.head.weight"][:, 2])


def test_latent_channels_map_group_by_group_when_levels_change_too(tiny_model):
    """More channels and more levels at once (e.g. cvqn-q5 -> q6): each old channel stays in its group."""
    source = tiny_model.model
    p = source.preset
    model = CVQN(p.replace(latent_channels=p.latent_channels * 2, levels=tuple(q + 2 for q in p.levels)))
    mapping = latent_channel_map(source, model)
    assert mapping == group_channel_map(source.controller.group_channels, model.controller.group_channels)
    assert latent_channel_map(source, CVQN(p.replace(importance="se"))) is None


def test_warm_start_to_more_levels_keeps_the_trained_means_in_the_middle(tiny_model):
    assert level_map(3, 5).tolist() == [0, 0, 1, 2, 2] and level_map(7, 5).tolist() == [1, 2, 3, 4, 5]
    source = tiny_model.model
    old_levels = source.preset.levels
    new_levels = (old_levels[0], old_levels[1] + 2, old_levels[2] + 4)
    model = CVQN(source.preset.replace(levels=new_levels))
    assert warm_start_levels(model, source) == 2
    for g, extra in ((1, 1), (2, 2)):
        mu_old, mu = source.controller.quantizers[g].mu, model.controller.quantizers[g].mu
        assert torch.equal(mu[extra:-extra], mu_old)
        assert bool((mu.diff() > 0).all())  # still ordered: new levels continue outwards
        w_old, w = source.context_models[g].last.weight, model.context_models[g].last.weight
        assert torch.equal(w[extra:-extra], w_old) and torch.equal(w[0], w_old[0]) and torch.equal(w[-1], w_old[-1])


def test_warm_start_into_a_wider_preset_starts_as_the_old_network(tiny_model):
    """Wider stages (e.g. small -> medium): the old weights are copied and the new channels do not reach
    the old ones, so encoder and decoder compute exactly what the old model did."""
    source = tiny_model.model.float().eval()
    wide = CVQN(source.preset.replace(widths=(6, 10, 12, 16), blocks=source.preset.blocks)).eval()
    own = wide.state_dict()
    copied, partial = warm_start(own, source.state_dict())
    wide.load_state_dict(own)
    assert partial > 0
    x = image_tensor(64, 48, seed=3)
    with torch.no_grad():
        z_old, z_new = source.encoder(x), wide.encoder(x)
        assert torch.allclose(z_new, z_old, atol=1e-5)
        assert torch.allclose(wide.decoder(z_old), source.decoder(z_old), atol=1e-5)
    # the same with a latent of another width at once: the old latent channels keep their values
    wider = CVQN(wide.preset.replace(latent_channels=source.preset.latent_channels + 4)).eval()
    own = wider.state_dict()
    channel_map = group_channel_map(source.controller.group_channels, wider.controller.group_channels)
    warm_start(own, source.state_dict(), channel_map)
    wider.load_state_dict(own)
    mapped = [i for i, old in enumerate(channel_map) if old >= 0]
    new_channels = [i for i, old in enumerate(channel_map) if old < 0]
    with torch.no_grad():
        z_wider = wider.encoder(x)
        assert torch.allclose(z_wider[:, mapped], z_old, atol=1e-5)
        # the new latent channels do not reach the decoder's output until training makes them
        assert z_wider[:, new_channels].abs().amax() > 0.01
        assert torch.allclose(wider.decoder(z_wider), source.decoder(z_old), atol=1e-5)
