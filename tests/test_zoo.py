"""The model zoo: installed weights found by name."""

import os
from pathlib import Path

import pytest

from cvqncodec import zoo
from cvqncodec.errors import ModelError
from tests.helpers import make_weights


def test_shipped_models_are_found_and_the_default_is_among_them():
    models = zoo.available_models()
    assert zoo.DEFAULT_MODEL in models
    assert {zoo.quality_model(q) for q in zoo.QUALITIES} <= set(models)
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


def test_cvq_weights_may_list_several_folders(tmp_path, monkeypatch):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    make_weights(tmp_path / "a" / "model.safetensors", name="run-a")
    make_weights(tmp_path / "b" / "model.safetensors", name="run-b")
    monkeypatch.setenv("CVQ_WEIGHTS", os.pathsep.join([str(tmp_path / "a"), "", str(tmp_path / "b")]))
    assert zoo.weights_dirs()[:2] == [tmp_path / "a", tmp_path / "b"]
    assert {"run-a", "run-b"} <= set(zoo.available_models())


def test_installed_models_are_package_data(tmp_path, monkeypatch):
    """Installed, the models are cvqncodec/weights_data (setup.py maps the top-level weights/ there), found
    through importlib.resources in any install scheme; uninstalled, the source tree's weights/."""
    monkeypatch.setattr(zoo.importlib.resources, "files", lambda package: tmp_path / package)
    assert zoo.package_weights() is None
    (tmp_path / "cvqncodec" / "weights_data").mkdir(parents=True)
    make_weights(tmp_path / "cvqncodec" / "weights_data" / "x.safetensors", name="packaged")
    assert zoo.package_weights() == tmp_path / "cvqncodec" / "weights_data"
    assert zoo.weights_dirs()[-1] == zoo.package_weights()
    assert zoo.available_models()["packaged"] == tmp_path / "cvqncodec" / "weights_data" / "x.safetensors"


def test_bad_files_never_shadow_good_models_and_are_listed_as_unusable(tmp_path, monkeypatch):  # #21, item 4
    import json

    from safetensors.torch import load_file, save_file

    from cvqncodec.weights import load_weights, read_weights

    (tmp_path / "good").mkdir()
    good = make_weights(tmp_path / "good" / "cvqn-q3.safetensors", name="cvqn-q3")
    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    meta, _, _, _ = read_weights(good)
    evil_meta = {**meta, "cvqn.preset": json.dumps({**json.loads(meta["cvqn.preset"]), "reduction": 0})}
    save_file(load_file(str(good)), str(evil_dir / "cvqn-q3.safetensors"), metadata=evil_meta)
    (evil_dir / "garbage.safetensors").write_bytes(b"not a safetensors file")
    monkeypatch.setenv("CVQ_WEIGHTS", os.pathsep.join([str(evil_dir), str(good.parent)]))
    models = zoo.available_models()
    assert models["cvqn-q3"] == good  # the usable file wins, though its folder comes later
    assert load_weights(zoo.resolve_model("cvqn-q3")).name == "cvqn-q3"
    with pytest.raises(ModelError, match="cannot read"):  # a name with only unusable files: loading says why
        load_weights(zoo.resolve_model("garbage"))
    listed = {(m.path, m.name): m for m in zoo.scan_models()}
    evil = listed[(evil_dir / "cvqn-q3.safetensors", "cvqn-q3")]
    assert "reduction" in evil.problem and evil.shadowed_by == good
    assert "cannot read" in listed[(evil_dir / "garbage.safetensors", "garbage")].problem
    assert listed[(good, "cvqn-q3")].problem is None and listed[(good, "cvqn-q3")].shadowed_by is None
    shipped = [m for m in zoo.scan_models() if m.name == "cvqn-q3" and m.path not in (good, evil.path)]
    assert shipped and all(m.shadowed_by == good for m in shipped)  # a usable file shadowed: said so too
