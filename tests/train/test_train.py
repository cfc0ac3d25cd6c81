"""A few training steps on generated images: loss, checkpoints, export and resume."""
import json

import numpy as np
import torch
from click.testing import CliRunner
from PIL import Image

from cvqncodec.cli import main
from cvqncodec.train import TrainConfig, lr_factor, ms_ssim_window
from cvqncodec.weights import load_weights

from tests.helpers import synthetic_image


def test_learning_rate_drops_twice():
    assert [lr_factor(s, 400) for s in (0, 199, 200, 299, 300, 399)] == [1, 1, 0.2, 0.2, 0.04, 0.04]


def test_ms_ssim_window_fits_crop():
    assert ms_ssim_window(256) == 11 and ms_ssim_window(128) == 7
    assert all((ms_ssim_window(s) - 1) * 16 < s for s in (64, 96, 128, 161, 192))


def test_train_checkpoint_export_and_resume(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        Image.fromarray(synthetic_image(80, 96, seed=i)).save(data / f"img{i}.png")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--crop", "64",
            "--batch-size", "2", "--steps", "3", "--val-every", "2", "--val-images", "1",
            "--checkpoint-minutes", "0", "--name", "tiny-trained", "-q"]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3
    lm = load_weights(out / "model.safetensors")
    assert lm.name == "tiny-trained" and lm.card["steps"] == 3
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [2, 3]
    assert all(np.isfinite(h["psnr"]) and h["bpp"] > 0 for h in history)
    resume = [a if a != "3" else "5" for a in args] + ["--resume"]
    r = CliRunner().invoke(main, resume, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 5
    # Training changed the weights, and the channels_last training layout does not leak into the file.
    assert lm.weights_id != load_weights(out / "model.safetensors").weights_id


def test_train_config_defaults_follow_the_paper():
    cfg = TrainConfig(data=".", out=".")
    assert (cfg.alpha, cfg.beta) == (128.0, 0.001)
    assert (cfg.lr_encoder, cfg.lr_quantizer, cfg.lr_entropy, cfg.lr_decoder) == (1e-4, 1e-4, 5e-5, 1e-4)


def test_group_channel_map_keeps_levels():
    from cvqncodec.train import group_channel_map
    assert group_channel_map((8, 16, 8), (4, 8, 4)) == [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27]
    assert group_channel_map((2, 4, 2), (3, 4, 3)) == [0, 1, -1, 2, 3, 4, 5, 6, 7, -1]


def test_warm_start_copies_matching_and_overlapping_tensors():
    from cvqncodec.model import CVQN
    from cvqncodec.presets import get_preset
    from cvqncodec.train import warm_start
    torch.manual_seed(0)
    src = CVQN(get_preset("tiny", latent_channels=8)).state_dict()
    dst_model = CVQN(get_preset("tiny", latent_channels=12))
    own = dst_model.state_dict()
    copied, partial = warm_start(own, src)
    assert partial >= 2 and copied > 0
    assert torch.equal(own["encoder.tail.weight"][:8], src["encoder.tail.weight"])
    assert torch.equal(own["decoder.head.weight"][:, :8], src["decoder.head.weight"])
    assert torch.equal(own["decoder.tail.weight"], src["decoder.tail.weight"])
    own = CVQN(get_preset("tiny", latent_channels=12)).state_dict()
    warm_start(own, src, [0, 1, -1, 2, 3, 4, 5, -1, -1, 6, 7, -1])
    assert torch.equal(own["encoder.tail.weight"][9], src["encoder.tail.weight"][6])
    assert torch.equal(own["decoder.head.weight"][:, 3], src["decoder.head.weight"][:, 2])


def test_mse_weight_adds_exactly_its_term():
    from cvqncodec.model import CVQN
    from cvqncodec.presets import get_preset
    from cvqncodec.train import loss_terms
    torch.manual_seed(0)
    model = CVQN(get_preset("tiny"))
    x = torch.rand(2, 3, 64, 64)
    torch.manual_seed(1)
    plain, *_ = loss_terms(model, x, TrainConfig(data=".", out="."), 3, False)
    with torch.no_grad():
        mse = torch.mean((model(x).x_hat.float() - x) ** 2)
    weighted, *_ = loss_terms(model, x, TrainConfig(data=".", out=".", mse_weight=100.0), 3, False)
    assert torch.allclose(weighted - plain, 100.0 * mse, rtol=1e-4)


def run_context_only(tmp_path, init, steps: int, *options: str):
    """``cvq train --context-only`` for a few steps on three generated images; returns (before, after)."""
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.fromarray(synthetic_image(80, 96, seed=i)).save(data / f"img{i}.png")
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--init", str(init), "--context-only",
            "--crop", "64", "--batch-size", "2", "--steps", str(steps), "--val-every", str(steps),
            "--val-images", "1", *options, "-q"]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return load_weights(init), load_weights(out / "model.safetensors")


def test_context_only_fine_tune_changes_only_the_context_models(tmp_path, tiny_weights):
    before, after = run_context_only(tmp_path, tiny_weights, 3, "--name", "tiny-qat", "--lr-scale", "50")
    b, a = before.model.state_dict(), after.model.state_dict()
    changed = {k for k in b if not torch.equal(b[k], a[k])}
    assert changed and all(k.startswith("context_models.") for k in changed)
    assert any(k.endswith("int_weight") for k in changed)  # the integer tables follow the new weights
    assert after.card["context_finetune"]["steps"] == 3
    assert after.card["note"] == before.card["note"]  # the --init model's card is kept
    assert after.model.has_integer_tables()


def test_context_only_needs_a_model_to_start_from(tmp_path):
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--context-only"])
    assert r.exit_code == 2 and "--init" in r.output


def test_context_only_can_widen_the_context_model(tmp_path, tiny_weights):
    """--context-filters/--context-blocks with --context-only: a new context model on the frozen coder,
    warm-started from the old one where shapes overlap; the result codes a file exactly."""
    from cvqncodec import codec, container
    from tests.helpers import image_tensor
    before, after = run_context_only(tmp_path, tiny_weights, 2, "--context-filters", "6", "--context-blocks", "2")
    assert (after.model.preset.context_filters, after.model.preset.context_blocks) == (6, 2)
    assert after.model.preset.replace(context_filters=4, context_blocks=1) == before.model.preset
    b, a = before.model.state_dict(), after.model.state_dict()
    assert all(torch.equal(b[k], a[k]) for k in b if not k.startswith("context_models."))
    assert after.model.context_models[0].first.weight.shape[0] == 6
    enc = codec.encode(after, image_tensor(40, 56, seed=9))
    _, latent = codec.decode(after, *container.unpack(enc.data))
    assert all(torch.equal(a, b) for a, b in zip(enc.latent.groups, latent.groups))


def test_context_width_must_be_positive(tmp_path, tiny_weights):
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--init",
                                  str(tiny_weights), "--context-only", "--context-filters", "0"])
    assert r.exit_code == 2 and "context model" in r.output


def test_warm_start_to_more_levels_keeps_the_trained_means_in_the_middle(tiny_model):
    from cvqncodec.model import CVQN
    from cvqncodec.train import level_map, warm_start_levels
    assert level_map(3, 5).tolist() == [0, 0, 1, 2, 2] and level_map(7, 5).tolist() == [1, 2, 3, 4, 5]
    source = tiny_model.model
    old_levels = source.preset.levels
    new_levels = (old_levels[0], old_levels[1] + 2, old_levels[2] + 4)
    model = CVQN(source.preset.replace(levels=new_levels))
    assert warm_start_levels(model, source) == 2
    for g, extra in ((1, 1), (2, 2)):
        mu_old, mu = source.controller.quantizers[g].mu, model.controller.quantizers[g].mu
        assert torch.equal(mu[extra:-extra], mu_old)
        assert bool((mu.diff() > 0).all())  # still ordered: new levels continue outwards
        w_old, w = source.context_models[g].last.weight, model.context_models[g].last.weight
        assert torch.equal(w[extra:-extra], w_old) and torch.equal(w[0], w_old[0]) and torch.equal(w[-1], w_old[-1])


def test_warm_start_into_a_wider_preset_starts_as_the_old_network(tiny_model):
    """Wider stages (e.g. small -> medium): the old weights are copied and the new channels do not reach
    the old ones, so encoder and decoder compute exactly what the old model did."""
    from cvqncodec.model import CVQN
    from cvqncodec.train import warm_start
    from tests.helpers import image_tensor
    source = tiny_model.model.float().eval()
    wide = CVQN(source.preset.replace(widths=(6, 10, 12, 16), blocks=source.preset.blocks)).eval()
    own = wide.state_dict()
    copied, partial = warm_start(own, source.state_dict())
    wide.load_state_dict(own)
    assert partial > 0
    x = image_tensor(64, 48, seed=3)
    with torch.no_grad():
        z_old, z_new = source.encoder(x), wide.encoder(x)
        assert torch.allclose(z_new, z_old, atol=1e-5)
        assert torch.allclose(wide.decoder(z_old), source.decoder(z_old), atol=1e-5)
    # the same with a latent of another width at once: the old latent channels keep their values
    from cvqncodec.train import group_channel_map
    wider = CVQN(wide.preset.replace(latent_channels=source.preset.latent_channels + 4)).eval()
    own = wider.state_dict()
    warm_start(own, source.state_dict(), group_channel_map(source.controller.group_channels,
                                                          wider.controller.group_channels))
    wider.load_state_dict(own)
    mapped = [i for i, old in enumerate(group_channel_map(source.controller.group_channels,
                                                          wider.controller.group_channels)) if old >= 0]
    with torch.no_grad():
        assert torch.allclose(wider.encoder(x)[:, mapped], z_old, atol=1e-5)
