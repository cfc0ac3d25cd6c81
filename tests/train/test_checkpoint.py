"""The run folder's checkpoint (format kept across versions: a run resumes with newer code) and the preset
of a run (``cvq train``'s choice between --preset, the --init model's and the checkpoint's)."""

from __future__ import annotations

import json

import pytest
import torch

from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.train import TrainConfig, parameter_groups, preset_for_run, save_checkpoint
from cvqncodec.weights import read_weights

#: The keys of RUN_DIR/checkpoint.pt; runs started with older code resume from them.
CHECKPOINT_KEYS = {"model", "optimizer", "step", "preset", "config", "history"}


@pytest.fixture()
def checkpoint_run(tmp_path):
    """A run folder with a checkpoint of a tiny model with 12 latent channels at step 7."""
    model = CVQN(get_preset("tiny", latent_channels=12))
    cfg = TrainConfig(data=".", out=str(tmp_path))
    opt = torch.optim.Adam(parameter_groups(model, cfg))
    save_checkpoint(tmp_path / "checkpoint.pt", model, opt, 7, cfg, [{"step": 5, "ms_ssim": 0.5}])
    return tmp_path


def test_checkpoint_keeps_its_format(checkpoint_run):
    state = torch.load(checkpoint_run / "checkpoint.pt", weights_only=True)
    assert set(state) == CHECKPOINT_KEYS and state["step"] == 7
    assert json.loads(state["history"]) == [{"step": 5, "ms_ssim": 0.5}]
    assert json.loads(state["config"])["out"] == str(checkpoint_run)
    assert not (checkpoint_run / "checkpoint.pt.tmp").exists()  # written atomically


def test_preset_for_run_takes_the_options(tmp_path):
    p = preset_for_run("tiny", tmp_path, latent_channels=12, levels=(3, 5, 9), importance=None, context_filters=None)
    assert p == get_preset("tiny", latent_channels=12, levels=(3, 5, 9))
    assert preset_for_run("tiny", tmp_path) is get_preset("tiny")
    with pytest.raises(ValueError, match="unknown preset"):
        preset_for_run("nope", tmp_path)


def test_a_warm_start_keeps_the_init_model_s_preset_unless_told(tmp_path, tiny_weights):
    """No --preset with --init: the init model's architecture (a compact default would silently change its C)."""
    own = read_weights(tiny_weights)[1]
    assert preset_for_run(None, tmp_path, init=str(tiny_weights)) == own
    assert preset_for_run(None, tmp_path, init=str(tiny_weights), latent_channels=12) == own.replace(latent_channels=12)
    assert preset_for_run("compact", tmp_path, init=str(tiny_weights)) == get_preset("compact")
    assert preset_for_run(None, tmp_path) == get_preset("compact")


def test_preset_for_run_resumes_with_the_checkpoint_preset(checkpoint_run):
    """--resume: the checkpoint's preset, whatever --preset says; without a checkpoint the options'."""
    assert preset_for_run("compact", checkpoint_run, resume=True) == get_preset("tiny", latent_channels=12)
    assert preset_for_run("compact", checkpoint_run) == get_preset("compact")
    assert preset_for_run("compact", checkpoint_run / "new", resume=True) == get_preset("compact")
    with pytest.raises(ValueError):  # the options are still checked
        preset_for_run("compact", checkpoint_run, resume=True, latent_channels=1)


def test_preset_for_run_context_only_keeps_the_init_model(tmp_path, tiny_weights):
    own = read_weights(tiny_weights)[1]
    p = preset_for_run(
        "compact",
        tmp_path,
        init=str(tiny_weights),
        finetune="context",
        latent_channels=64,
        context_filters=6,
        context_blocks=None,
    )
    assert p == own.replace(context_filters=6)
    with pytest.raises(ValueError, match="--init"):
        preset_for_run("compact", tmp_path, finetune="context")
