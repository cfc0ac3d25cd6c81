"""The model zoo: installed weights found by name."""

from pathlib import Path

import pytest

from cvqncodec import zoo
from cvqncodec.errors import ModelError
from tests.helpers import make_weights


def test_shipped_models_are_found_and_the_default_is_among_them():
    models = zoo.available_models()
    assert zoo.DEFAULT_MODEL in models
    assert {f"cvqn-q{q}" for q in range(1, 6)} <= set(models)
    assert zoo.resolve_model(None) == models[zoo.DEFAULT_MODEL]
    assert zoo.resolve_model(zoo.quality_model(2)) == models["cvqn-q2"]


def test_cvq_weights_comes_first_and_names_come_from_metadata(tmp_path, monkeypatch):
    make_weights(tmp_path / "whatever.safetensors", name="cvqn-q3")
    make_weights(tmp_path / "mine.safetensors", name="my-model")
    monkeypatch.setenv("CVQ_WEIGHTS", str(tmp_path))
    assert zoo.weights_dirs()[0] == tmp_path
    models = zoo.available_models()
    assert models["cvqn-q3"] == tmp_path / "whatever.safetensors"
    assert models["my-model"] == tmp_path / "mine.safetensors"


def test_paths_only_when_allowed_and_unknown_names_list_the_choices(tmp_path):
    path = make_weights(tmp_path / "x.safetensors")
    assert zoo.resolve_model(str(path)) == Path(path)
    with pytest.raises(ModelError, match="no model named"):
        zoo.resolve_model(str(path), allow_path=False)
    with pytest.raises(ModelError, match="cvqn-q3"):
        zoo.resolve_model("no-such-model")


def test_unreadable_file_is_named_after_its_file(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"nonsense")
    assert zoo.model_name(bad) == "broken"
