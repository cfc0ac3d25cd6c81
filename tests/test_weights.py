"""The weights-file format: fp16 safetensors with the preset as metadata and the integer tables."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from cvqncodec.errors import ModelError
from cvqncodec.weights import load_for_training, load_weights, read_weights, save_weights
from tests.helpers import make_weights


def test_round_trip_keeps_preset_name_card_and_fp16_values(tmp_path):
    path = make_weights(tmp_path / "a.safetensors", name="my-model")
    loaded = load_weights(path)
    meta, preset, card, state = read_weights(path)
    assert loaded.name == "my-model" and loaded.path == path and card == loaded.card
    assert loaded.model.preset == preset and meta["cvqn.format"] == "2"
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    for key, value in loaded.model.state_dict().items():
        assert torch.equal(value.to(state[key].dtype), state[key]), key
    assert len(loaded.evaluators) == len(preset.levels) and loaded.evaluators is loaded.evaluators


def test_weights_id_follows_the_tensors(tmp_path):
    a = load_weights(make_weights(tmp_path / "a.safetensors", seed=0))
    again = load_weights(make_weights(tmp_path / "b.safetensors", seed=0))
    other = load_weights(make_weights(tmp_path / "c.safetensors", seed=1))
    assert a.weights_id == again.weights_id != other.weights_id
    assert len(a.weights_id) == 8


def test_foreign_and_broken_files_are_model_errors(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 40)
    for path, match in (
        (plain, "not a cvqncodec weights file"),
        (broken, "cannot read"),
        (tmp_path / "missing.safetensors", "not found"),
    ):
        with pytest.raises(ModelError, match=match):
            load_weights(path)


def test_tables_are_required_for_coding_but_not_for_warm_starts(tmp_path):
    path = make_weights(tmp_path / "a.safetensors")
    meta, _, _, _ = read_weights(path)
    state = {k: v for k, v in load_file(str(path)).items() if not k.endswith("int_weight")}
    stripped = tmp_path / "stripped.safetensors"
    save_file(state, str(stripped), metadata=meta)
    with pytest.raises(ModelError, match="int_weight|integer context-model tables"):
        load_weights(stripped)
    assert load_for_training(stripped).preset == read_weights(path)[1]  # warm starts accept it


def test_other_format_versions_are_refused(tmp_path):
    path = make_weights(tmp_path / "a.safetensors")
    meta, _, _, _ = read_weights(path)
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata={**meta, "cvqn.format": "1"})
    with pytest.raises(ModelError, match="format '1'"):
        load_weights(old)


def test_save_is_atomic_and_readable_by_others(tmp_path):
    path = make_weights(tmp_path / "a.safetensors")
    model = load_weights(path).model
    save_weights(model, path, "again")
    assert load_weights(path).name == "again"
    assert (path.stat().st_mode & 0o044) == 0o044
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
