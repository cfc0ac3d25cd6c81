"""The weights-file format: fp16 safetensors with the preset as metadata and the integer tables."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from cvqncodec.errors import ModelError
from cvqncodec.weights import (
    legacy_weights_id,
    load_for_training,
    load_weights,
    read_weights,
    save_weights,
    weights_id,
)
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


def test_weights_id_covers_the_decoder_side_only(tmp_path):
    """An encoder change keeps the id (the files decode alike); any other tensor changes it. The legacy id
    (every tensor, before 0.4) stays accepted, so files of earlier versions with the same weights decode."""
    path = make_weights(tmp_path / "a.safetensors", seed=0)
    a = load_weights(path)
    model = a.model
    with torch.no_grad():
        next(model.encoder.parameters()).add_(0.5)
    enc_path = tmp_path / "enc.safetensors"
    save_weights(model, enc_path, "a", build_tables=False)
    enc = load_weights(enc_path)
    assert enc.weights_id == a.weights_id and enc.decodes != a.decodes  # the legacy ids differ
    assert weights_id(read_weights(path)[3], a.model.preset) == a.weights_id
    assert legacy_weights_id(read_weights(path)[3], a.model.preset) in a.decodes
    with torch.no_grad():
        next(model.decoder.parameters()).add_(0.5)
    save_weights(model, tmp_path / "dec.safetensors", "a", build_tables=False)
    assert load_weights(tmp_path / "dec.safetensors").weights_id != a.weights_id


def test_an_encoder_fine_tune_decodes_the_files_of_the_model_it_replaces(tmp_path):
    old = load_weights(make_weights(tmp_path / "a.safetensors", seed=0))
    with torch.no_grad():
        next(old.model.encoder.parameters()).mul_(1.1)
    save_weights(old.model, tmp_path / "new.safetensors", "a", build_tables=False, same_decoder_as=old)
    new = load_weights(tmp_path / "new.safetensors")
    assert old.decodes <= new.decodes and read_weights(tmp_path / "new.safetensors")[0]["cvqn.decodes"]
    with torch.no_grad():
        next(old.model.decoder.parameters()).mul_(1.1)
    with pytest.raises(ValueError, match="decoder side differs"):
        save_weights(old.model, tmp_path / "bad.safetensors", "a", build_tables=False, same_decoder_as=new)


def test_malformed_decodes_metadata_is_a_model_error(tmp_path):
    path = make_weights(tmp_path / "a.safetensors")
    meta, _, _, state = read_weights(path)
    for bad in ("zz", "0011", "00112233445566778899"):
        save_file(state, str(tmp_path / "m.safetensors"), metadata={**meta, "cvqn.decodes": bad})
        with pytest.raises(ModelError, match="cvqn.decodes"):
            load_weights(tmp_path / "m.safetensors")


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


# ---------------------------------------------------------------------------------------- issue #21, item 4
def with_changes(tmp_path, source, name: str, preset: dict | None = None, meta: dict | None = None, state=None):
    """A copy of the weights file ``source`` with preset fields, metadata or tensors replaced."""
    import json

    old_meta, _, _, _ = read_weights(source)
    new_meta = dict(old_meta)
    if preset is not None:
        new_meta["cvqn.preset"] = json.dumps({**json.loads(old_meta["cvqn.preset"]), **preset})
    new_meta.update(meta or {})
    path = tmp_path / f"{name}.safetensors"
    save_file(state if state is not None else load_file(str(source)), str(path), metadata=new_meta)
    return path


@pytest.mark.parametrize(
    "change, match",
    [
        ({"widths": [30000, 30000, 30000, 30000]}, "stage widths"),
        ({"blocks": 10_000_000}, "blocks"),
        ({"blocks": -1}, "blocks"),
        ({"reduction": 0}, "reduction"),
        ({"blocks": "2"}, "blocks must be int"),
        ({"blocks": 2.0}, "blocks must be int"),
        ({"blocks": True}, "blocks must be int"),
        ({"blocks": {"nested": [1, {"deeper": 2}]}}, "blocks must be int"),
        ({"widths": [4, 8, 8]}, "four stage widths"),
        ({"widths": "abcd"}, "widths must be a list"),
        ({"levels": [3, 5, 1000]}, "levels"),
        ({"ratios": [0.5, 0.5, 0.0]}, "ratios"),
        ({"latent_channels": 100_000}, "latent channel"),
        ({"context_filters": 0}, "context model"),
        ({"importance": ["se"]}, "importance must be str"),
        ({"gdn": "yes"}, "gdn must be bool"),
    ],
)
def test_hostile_presets_are_refused_before_building_anything(tmp_path, tiny_weights, change, match):
    import time

    path = with_changes(tmp_path, tiny_weights, "evil", preset=change)
    start = time.perf_counter()
    with pytest.raises(ModelError, match=match):
        load_weights(path)
    assert time.perf_counter() - start < 2.0  # widths of 30 000 used to allocate 14 GB


def test_presets_that_are_not_json_objects_are_refused(tmp_path, tiny_weights):
    for text in ("[1, 2]", "{", "null", "[" * 100_000 + "]" * 100_000, '{"widths": [4, 8, 8, 12]}'):
        path = with_changes(tmp_path, tiny_weights, "bad", meta={"cvqn.preset": text})
        with pytest.raises(ModelError, match="invalid preset"):
            load_weights(path)


def test_a_preset_the_tensors_do_not_fit_is_refused_before_building(tmp_path, tiny_weights):
    """The largest preset in range, in a small file: the shapes are compared on a meta-device network."""
    import time

    big = {"widths": [1024] * 4, "blocks": 16, "context_filters": 1024, "context_blocks": 16, "reduction": 1}
    path = with_changes(tmp_path, tiny_weights, "big", preset=big)
    start = time.perf_counter()
    with pytest.raises(ModelError, match="do not match their preset"):
        load_weights(path)
    assert time.perf_counter() - start < 5.0
    state = load_file(str(tiny_weights))
    state["extra.weight"] = torch.zeros(3)
    with pytest.raises(ModelError, match="unexpected extra.weight"):
        load_weights(with_changes(tmp_path, tiny_weights, "extra", state=state))
    state = load_file(str(tiny_weights))
    key = next(k for k in state if k.endswith("int_weight"))
    state[key] = state[key].float()
    with pytest.raises(ModelError, match="wrong shape or type"):
        load_weights(with_changes(tmp_path, tiny_weights, "kind", state=state))


@pytest.mark.parametrize("table, value", [("int_shift", -1), ("int_weight", 1 << 20), ("exp_table", -5)])
def test_integer_tables_out_of_range_are_refused(tmp_path, tiny_weights, table, value):
    state = load_file(str(tiny_weights))
    key = next(k for k in state if k.endswith(table))
    state[key] = state[key].clone()
    state[key].view(-1)[-1] = value
    with pytest.raises(ModelError, match="out of range|non-increasing"):
        load_weights(with_changes(tmp_path, tiny_weights, "table", state=state))


def test_non_finite_weights_cards_and_names_are_refused(tmp_path, tiny_weights):
    state = load_file(str(tiny_weights))
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].clone()
    state[key].view(-1)[0] = float("nan")
    with pytest.raises(ModelError, match="non-finite"):
        load_weights(with_changes(tmp_path, tiny_weights, "nan", state=state))
    with pytest.raises(ModelError, match="model card"):
        load_weights(with_changes(tmp_path, tiny_weights, "card", meta={"cvqn.card": "[1, 2]"}))
    with pytest.raises(ModelError, match="control characters"):
        load_weights(with_changes(tmp_path, tiny_weights, "esc", meta={"cvqn.name": "evil\x1b[2J"}))
    with pytest.raises(ModelError, match="255 bytes"):
        load_weights(with_changes(tmp_path, tiny_weights, "long", meta={"cvqn.name": "x" * 256}))
    assert load_weights(with_changes(tmp_path, tiny_weights, "anon", meta={"cvqn.name": ""})).name == "anon"


@pytest.mark.parametrize("preset", ["tiny", "compact", "small"])
@pytest.mark.parametrize("importance", ["predefined", "se", "re"])
def test_expected_tensors_match_a_built_network(preset, importance):
    from cvqncodec.model import CVQN
    from cvqncodec.presets import get_preset
    from cvqncodec.weights import expected_tensors

    p = get_preset(preset, importance=importance)
    built = {k: (tuple(v.shape), v.is_floating_point()) for k, v in CVQN(p).state_dict().items()}
    assert expected_tensors(p) == built
    wide = get_preset("tiny", wide_groups=True, gdn=True, importance=importance)
    assert expected_tensors(wide) == {
        k: (tuple(v.shape), v.is_floating_point()) for k, v in CVQN(wide).state_dict().items()
    }
