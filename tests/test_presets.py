"""Presets: the network's shape as data, saved with the weights."""

import pytest

from cvqncodec.presets import PRESETS, Preset, get_preset


@pytest.mark.parametrize(
    "changes",
    [
        {"levels": (3, 5), "ratios": (0.25, 0.5, 0.25)},
        {"ratios": (0.5, 0.6, -0.1)},
        {"levels": (1, 5, 7)},
        {"levels": (3, 5, 65)},
        {"importance": "random"},
        {"widths": (8, 8, 8)},
        {"context_filters": 0},
        {"latent_channels": 2},
    ],
)
def test_invalid_presets_are_refused(changes):
    with pytest.raises(ValueError):
        get_preset("tiny", **changes)


def test_json_round_trip_and_unknown_keys_ignored():
    for preset in PRESETS.values():
        assert Preset.from_json(preset.to_json()) == preset
    text = get_preset("small", latent_channels=48).to_json().replace("{", '{"from_the_future": 1, ', 1)
    assert Preset.from_json(text) == get_preset("small", latent_channels=48)


def test_group_channels_sum_to_the_latent_and_keep_every_group():
    for c in range(3, 97):
        sizes = get_preset("compact", latent_channels=c).group_channels
        assert sum(sizes) == c and min(sizes) >= 1


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="compact"):
        get_preset("huge")
