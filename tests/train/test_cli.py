"""``cvq train``: --context-only and --encoder-only fine-tunes, and the usage errors of the command."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from cvqncodec import codec, container
from cvqncodec.cli import main
from cvqncodec.train.config import lr_scale_for
from cvqncodec.train.loop import choose_device
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor


def run_finetune(tmp_path, data, init, steps: int, *options: str, part: str = "context"):
    """``cvq train --PART-only`` for a few steps on the images of ``data``; returns (before, after)."""
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--init",
        str(init),
        f"--{part}-only",
        "--crop",
        "64",
        "--batch-size",
        "2",
        "--steps",
        str(steps),
        "--val-every",
        str(steps),
        "--val-images",
        "1",
        *options,
        "--quiet",
    ]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return load_weights(init), load_weights(out / "model.safetensors")


def test_context_only_fine_tune_changes_only_the_context_models(tmp_path, image_folder, tiny_weights):
    before, after = run_finetune(tmp_path, image_folder(3), tiny_weights, 3, "--name", "tiny-qat", "--lr-scale", "50")
    b, a = before.model.state_dict(), after.model.state_dict()
    changed = {k for k in b if not torch.equal(b[k], a[k])}
    assert changed and all(k.startswith("context_models.") for k in changed)
    assert any(k.endswith("int_weight") for k in changed)  # the integer tables follow the new weights
    assert after.card["context_finetune"]["steps"] == 3
    assert after.card["note"] == before.card["note"]  # the --init model's card is kept
    assert after.model.has_integer_tables()


def test_encoder_only_fine_tune_changes_only_the_encoder(tmp_path, image_folder, tiny_weights):
    """--encoder-only: the encoder learns, the decoder, quantizer and context models stay bit for bit (so the
    new weights' files decode with the same decoder), the --init card is kept, the result codes exactly."""
    before, after = run_finetune(
        tmp_path, image_folder(3), tiny_weights, 3, "--lr-scale", "50", "--mse-weight", "64", part="encoder"
    )
    b, a = before.model.state_dict(), after.model.state_dict()
    changed = {k for k in b if not torch.equal(b[k], a[k])}
    assert changed and all(k.startswith("encoder.") for k in changed)
    assert after.model.preset == before.model.preset
    assert after.card["encoder_finetune"]["steps"] == 3 and after.card["encoder_finetune"]["mse_weight"] == 64
    assert after.card["note"] == before.card["note"]
    enc = codec.encode(after, image_tensor(40, 56, seed=9))
    _, latent = codec.decode(after, *container.unpack(enc.data))
    assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))
    # One decoder: the same weights id, and each model decodes the other's files to the same image.
    assert after.weights_id == before.weights_id and before.decodes <= after.decodes
    old = codec.encode(before, image_tensor(40, 56, seed=9))
    assert old.data != enc.data
    for data in (old.data, enc.data):
        images = [codec.decode(m, *container.unpack(data))[0] for m in (before, after)]
        assert torch.equal(*images)


@pytest.mark.parametrize("part", ["context", "encoder"])
def test_finetunes_need_a_model_to_start_from(tmp_path, part):
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), f"--{part}-only"])
    assert r.exit_code == 2 and "--init" in r.output


def test_one_finetune_at_a_time(tmp_path, tiny_weights):
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--init", str(tiny_weights)]
    r = CliRunner().invoke(main, [*base, "--context-only", "--encoder-only"])
    assert r.exit_code == 2 and "not both" in r.output


def test_context_only_can_widen_the_context_model(tmp_path, image_folder, tiny_weights):
    """--context-filters/--context-blocks with --context-only: a new context model on the frozen coder,
    warm-started from the old one where shapes overlap; the result codes a file exactly."""
    before, after = run_finetune(
        tmp_path, image_folder(3), tiny_weights, 2, "--context-filters", "6", "--context-blocks", "2"
    )
    assert (after.model.preset.context_filters, after.model.preset.context_blocks) == (6, 2)
    assert after.model.preset.replace(context_filters=4, context_blocks=1) == before.model.preset
    b, a = before.model.state_dict(), after.model.state_dict()
    assert all(torch.equal(b[k], a[k]) for k in b if not k.startswith("context_models."))
    assert after.model.context_models[0].first.weight.shape[0] == 6
    enc = codec.encode(after, image_tensor(40, 56, seed=9))
    _, latent = codec.decode(after, *container.unpack(enc.data))
    assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))


def test_context_width_must_be_positive(tmp_path, tiny_weights):
    r = CliRunner().invoke(
        main,
        [
            "train",
            "--data",
            str(tmp_path),
            "--out",
            str(tmp_path / "r"),
            "--init",
            str(tiny_weights),
            "--context-only",
            "--context-filters",
            "0",
        ],
    )
    assert r.exit_code == 2 and "context model" in r.output


def test_unknown_preset_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--preset", "nope"])
    assert r.exit_code == 2 and "unknown preset 'nope'" in r.output


def test_lr_is_the_base_learning_rate_and_device_picks_where(tmp_path, image_folder, tiny_weights):
    """--lr LR is --lr-scale LR / 1e-4 (the paper's base rate); --device cpu trains on the CPU."""
    _, after = run_finetune(tmp_path, image_folder(3), tiny_weights, 1, "--lr", "5e-3", "--device", "cpu")
    assert after.card["context_finetune"]["lr_scale"] == pytest.approx(50.0)


def test_lr_and_device_usage_errors(tmp_path, tiny_weights):
    base = ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--init", str(tiny_weights)]
    r = CliRunner().invoke(main, [*base, "--context-only", "--lr", "2e-4", "--lr-scale", "2"])
    assert r.exit_code == 2 and "--lr or --lr-scale, not both" in r.output
    r = CliRunner().invoke(main, [*base, "--lr", "0"])
    assert r.exit_code == 2 and "--lr" in r.output
    assert CliRunner().invoke(main, [*base, "--device", "tpu"]).exit_code == 2
    if not torch.cuda.is_available():
        r = CliRunner().invoke(main, [*base, "--device", "cuda"])
        assert r.exit_code == 2 and "no CUDA device" in r.output
    assert not (tmp_path / "r").exists()  # refused before any work


def test_choose_device():
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 1)
    assert choose_device("auto", cuda, True) is cuda and choose_device("cuda", cuda, True) is cuda
    assert choose_device("cpu", cuda, False) == cpu
    with pytest.raises(ValueError, match="torchrun"):
        choose_device("cpu", cuda, True)
    with pytest.raises(ValueError, match="no CUDA device"):
        choose_device("cuda", cpu, False)
    assert lr_scale_for(2e-4) == pytest.approx(2.0) and lr_scale_for(5e-5) == pytest.approx(0.5)
