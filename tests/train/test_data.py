"""The image folder of a run: recursive listing, the fixed validation split, random crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cvqncodec.cli import main
from cvqncodec.errors import InputError, UsageError
from cvqncodec.train import CropSampler, TrainConfig, split_files
from cvqncodec.train.data import check_crop, load_data, load_training_image, split_folder


def test_split_is_fixed_and_holds_out_the_validation_images():
    files = [Path(f"img{i}.png") for i in range(10)]
    train, val = split_files(files, 3)
    assert len(val) == 3 and sorted(train + val) == files
    assert split_files(files, 3) == (train, val)  # the same split for every run of a folder


def test_split_folder_lists_sub_folders_and_keeps_a_training_image(image_folder):
    data = image_folder(2)
    (data / "more").mkdir()
    (data / "img0.png").rename(data / "more" / "img0.png")
    train, val = split_folder(TrainConfig(data=str(data), out=".", val_images=8))
    assert len(train) == 1 and len(val) == 1
    assert data / "more" / "img0.png" in train + val


def test_a_folder_without_images_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        split_folder(TrainConfig(data=str(tmp_path), out="."))
    r = CliRunner().invoke(main, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--preset", "tiny"])
    assert r.exit_code == 3 and "no images" in r.output


def test_crop_sampler_gives_flipped_crops_of_large_enough_images():
    images = [np.zeros((40, 40, 3), np.uint8), np.full((70, 90, 3), 255, np.uint8)]
    batch = CropSampler(images, 64, seed=0).batch(3)
    assert batch.shape == (3, 3, 64, 64) and batch.dtype == torch.float32
    assert torch.equal(batch, torch.ones_like(batch))  # only the image of at least 64 px per side is used
    textured = [np.random.default_rng(1).integers(0, 256, (80, 96, 3), dtype=np.uint8)]
    assert torch.equal(CropSampler(textured, 64, seed=5).batch(2), CropSampler(textured, 64, seed=5).batch(2))
    with pytest.raises(UsageError, match="at least 96 px.*the largest shorter side is 70 px"):
        CropSampler(images, 96, seed=0)


# ---------------------------------------------------------------------------------------- issue #21, item 10
@pytest.mark.parametrize("crop", [0, 16, 32, 40, 100])
def test_crops_the_loss_cannot_use_are_usage_errors(crop, image_folder, tmp_path):
    with pytest.raises(UsageError, match="--crop"):
        check_crop(crop)
    cfg = TrainConfig(data=str(image_folder(2)), out=str(tmp_path / "run"), crop=crop)
    with pytest.raises(UsageError, match="multiples of 16 px and at least 48 px"):
        load_data(cfg, tmp_path, print)  # before any image is read


def test_a_corrupt_image_is_an_input_error_naming_it(image_folder, tmp_path):
    data = image_folder(2)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 30)
    with pytest.raises(InputError, match="broken.png: not a readable image"):
        load_training_image(data / "broken.png", 768)
    truncated = (data / "img0.png").read_bytes()
    (data / "cut.png").write_bytes(truncated[: len(truncated) // 2])
    with pytest.raises(InputError, match="cut.png"):
        load_training_image(data / "cut.png", 768)


def test_train_command_reports_bad_crops_and_corrupt_images_cleanly(image_folder, tmp_path):
    data = image_folder(2)
    args = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--preset", "tiny", "--steps", "1"]
    r = CliRunner().invoke(main, [*args, "--crop", "32"])
    assert r.exit_code == 2 and "--crop 32" in r.output
    r = CliRunner().invoke(main, [*args, "--crop", "128"])  # the images are 80 x 96
    assert r.exit_code == 2 and "no training image is at least 128 px" in r.output
    (data / "zz-broken.png").write_bytes(b"not an image at all")
    r = CliRunner().invoke(main, [*args, "--crop", "64"])
    assert r.exit_code == 3 and "zz-broken.png: not a readable image" in r.output
