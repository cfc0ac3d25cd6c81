import torch

from cvqncodec.controller import VariableQuantizationController
from cvqncodec.presets import get_preset


def test_group_sizes_follow_ratios():
    assert get_preset("compact", latent_channels=8).group_channels == (2, 4, 2)  # Fig. 2 example
    assert get_preset("compact", latent_channels=32).group_channels == (8, 16, 8)
    assert sum(get_preset("compact", latent_channels=43).group_channels) == 43


def test_predefined_importance_keeps_channel_order_and_low_levels_first():
    ctl = VariableQuantizationController(get_preset("tiny"))
    assert ctl.fixed_order().tolist() == list(range(8))  # w_c = c sorted ascending
    assert [q.levels for q in ctl.quantizers] == [3, 5, 7]


def test_split_then_merge_restores_channel_order():
    for importance in ("predefined", "se", "re"):
        torch.manual_seed(1)
        ctl = VariableQuantizationController(get_preset("tiny", importance=importance))
        z = torch.randn(2, 8, 3, 5)
        z2, w = ctl.weigh(z)
        perm = ctl.order(w)
        assert sorted(perm.tolist()) == list(range(8))
        assert torch.equal(ctl.merge(ctl.split(z2, perm), perm), z2)
        # Sorted ascending by importance: the first group holds the least important channels.
        assert all(w[perm[i]] <= w[perm[i + 1]] for i in range(7))


def test_forward_quantizes_each_group_with_its_own_levels():
    torch.manual_seed(0)
    ctl = VariableQuantizationController(get_preset("tiny"))
    z_hat, groups_hat, groups_sym, nll, perm = ctl(torch.randn(1, 8, 4, 4) * 3)
    for q, g, s in zip(ctl.quantizers, groups_hat, groups_sym):
        assert int(s.max()) < q.levels
        assert set(g.unique().tolist()) <= set(q.mu.tolist())
    assert torch.isfinite(nll)


def test_every_preset_builds_and_round_trips_shapes():
    """The presets are data: each builds a model whose decoder inverts the encoder's shapes."""
    from cvqncodec.model import CVQN
    from cvqncodec.presets import PRESETS, Preset

    for name, preset in PRESETS.items():
        assert Preset.from_json(preset.to_json()) == preset
        if name == "paper":
            preset = preset.replace(blocks=1)  # the shapes do not depend on B; keep the test fast
        torch.manual_seed(0)
        model = CVQN(preset).eval()
        with torch.no_grad():
            out = model(torch.rand(1, 3, 32, 48))
        assert out.x_hat.shape == (1, 3, 32, 48), name
        assert len(out.group_bits) == len(preset.levels)


def test_coding_symbols_are_the_training_forwards_and_dequantize_inverts_them():
    for importance in ("predefined", "se", "re"):
        torch.manual_seed(2)
        ctl = VariableQuantizationController(get_preset("tiny", importance=importance))
        z = torch.randn(1, 8, 4, 6) * 3
        z_hat, _, groups_sym, _, perm = ctl(z)
        symbols, coding_perm = ctl.quantize_symbols(z)
        assert torch.equal(coding_perm, perm)
        assert all(torch.equal(a, b) for a, b in zip(symbols, groups_sym))
        assert ctl.levels == [3, 5, 7]
        values = ctl.dequantize_groups(symbols)
        assert [v.shape[1] for v in values] == list(ctl.group_channels)
        assert torch.equal(ctl.merge(values, perm), ctl.dequantize(symbols, perm))
        assert torch.allclose(ctl.dequantize(symbols, perm), z_hat.detach())
