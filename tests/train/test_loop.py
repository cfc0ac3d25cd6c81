"""A few training steps on generated images: loss, checkpoints, export, stop and resume."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import torch
from click.testing import CliRunner

from cvqncodec.cli import main
from cvqncodec.presets import get_preset
from cvqncodec.train import TrainConfig, preset_for_run, train
from cvqncodec.weights import load_weights


def test_train_checkpoint_export_and_resume(tmp_path, image_folder):
    data = image_folder(4)
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--preset",
        "tiny",
        "--crop",
        "64",
        "--batch-size",
        "2",
        "--steps",
        "3",
        "--val-every",
        "2",
        "--val-images",
        "1",
        "--checkpoint-minutes",
        "0",
        "--name",
        "tiny-trained",
        "--chroma-weight",
        "16",
        "--rate-weight",
        "2",
        "--quiet",
    ]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3
    loaded = load_weights(out / "model.safetensors")
    assert loaded.name == "tiny-trained" and loaded.card["steps"] == 3 and loaded.card["chroma_weight"] == 16
    assert loaded.card["rate_weight"] == 2
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 3]
    assert all(np.isfinite(h["psnr"]) and h["bpp"] > 0 for h in history)
    assert all(len(h["mean_error"]) == 3 and all(s > 0 for s in h["chroma_spread"]) for h in history)
    resume = [a if a != "3" else "5" for a in args] + ["--resume"]
    r = CliRunner().invoke(main, resume, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 5
    # Training changed the weights, and the channels_last training layout does not leak into the file.
    assert loaded.weights_id != load_weights(out / "model.safetensors").weights_id


def test_a_stopped_run_resumes_from_its_checkpoint(tmp_path, image_folder):
    """SIGTERM ends a run after its step with a checkpoint; --resume (preset read from that checkpoint)
    continues it where it stopped, with the same history."""
    cfg = TrainConfig(
        data=str(image_folder(3)),
        out=str(tmp_path / "run"),
        steps=3,
        batch_size=2,
        crop=64,
        val_images=1,
        val_every=1,
        checkpoint_minutes=60,
        bf16=False,
    )
    handler = signal.getsignal(signal.SIGTERM)
    logs = []

    def log_and_stop(message):
        logs.append(message)
        if message.startswith("step 1:"):
            os.kill(os.getpid(), signal.SIGTERM)

    train(get_preset("tiny", latent_channels=12), cfg, progress=False, log=log_and_stop)
    assert logs[-1] == f"stopped by signal {int(signal.SIGTERM)} at step 1; checkpoint saved, continue with --resume"
    assert signal.getsignal(signal.SIGTERM) == handler
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 1
    preset = preset_for_run("compact", cfg.out, resume=True)
    assert preset == get_preset("tiny", latent_channels=12)
    logs.clear()
    model = train(preset, cfg, resume=True, progress=False, log=logs.append)
    assert "resumed at step 1" in logs and model.encoder.tail.weight.is_contiguous()
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    rows = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert state["step"] == 3 and rows == json.loads(state["history"])
    assert [h["step"] for h in rows] == [1, 2, 3]
    assert load_weights(tmp_path / "run" / "model.safetensors").card["steps"] == 3
