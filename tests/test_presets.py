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


@pytest.mark.parametrize(
    "changes",
    [
        {"widths": (8, 8, 8, 5000)},
        {"widths": (8, 0, 8, 8)},
        {"blocks": -1},
        {"blocks": 10_000_000},
        {"reduction": 0},
        {"context_blocks": 1000},
        {"latent_channels": 100_000},
        {"ratios": (float("nan"), 0.5, 0.5)},
        {"levels": (3,) * 17, "ratios": (1 / 17,) * 17},
    ],
)
def test_presets_out_of_range_are_refused(changes):  # issue #21, item 4: they bound what a file can build
    with pytest.raises(ValueError):
        get_preset("tiny", **changes)


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "{}",
        '{"name": 5}',
        '{"name": "x", "blocks": "2"}',
        '{"name": "x", "blocks": 2.5}',
        '{"name": "x", "gdn": 1}',
        '{"name": "x", "widths": 64}',
        '{"name": "x", "widths": [1, 2, {"a": 3}, 4]}',
        '{"name": "x", "levels": [3, 5, true]}',
        "not json",
        "[" * 50_000 + "]" * 50_000,
    ],
)
def test_from_json_accepts_only_well_typed_objects(text):
    with pytest.raises(ValueError):
        Preset.from_json(text)


def test_from_json_takes_defaults_for_missing_fields():
    assert Preset.from_json('{"name": "x", "levels": [5], "ratios": [1]}') == Preset("x", levels=(5,), ratios=(1,))
    with pytest.raises(ValueError, match="name"):
        Preset("")
