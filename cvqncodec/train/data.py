"""Training data: the images of a folder, its fixed train/validation split, random crops with flips."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import InputError, UsageError
from ..imageio import list_images
from ..presets import DOWNSAMPLING
from .config import TrainConfig
from .distributed import is_main

#: Seed of the fixed shuffle that holds out the validation images (the same split for every run of a folder).
SPLIT_SEED = 1234
#: Smallest crop: 5-scale MS-SSIM halves a crop four times and needs more than 2 x 16 px (its smallest
#: window is 3), and crops are multiples of the encoder's down-sampling (16).
MIN_CROP = 48


def load_training_image(path: Path, max_side: int) -> np.ndarray:
    """RGB uint8, downscaled (Lanczos) so the longer side is at most ``max_side``; InputError (exit 3) naming
    the file for a corrupt or unsupported one."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's plugins raise many types for corrupt files
        raise InputError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None
    scale = max_side / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.LANCZOS)
    return np.asarray(rgb)


def check_crop(crop: int) -> None:
    """UsageError (exit 2) for a crop side the loss cannot use: below MIN_CROP or not a multiple of 16."""
    if crop < MIN_CROP or crop % DOWNSAMPLING:
        raise UsageError(
            f"--crop {crop}: crops must be multiples of {DOWNSAMPLING} px and at least {MIN_CROP} px "
            "(MS-SSIM's five scales)"
        )


def split_files(files: list[Path], n_val: int, seed: int = SPLIT_SEED) -> tuple[list[Path], list[Path]]:
    """(training files, the ``n_val`` validation files) after a fixed shuffle."""
    order = list(files)
    random.Random(seed).shuffle(order)
    return order[n_val:], order[:n_val]


def split_folder(cfg: TrainConfig) -> tuple[list[Path], list[Path]]:
    """The images of ``cfg.data`` and its sub-folders split into (train, validation); at least one image
    stays for training. InputError for a folder without images."""
    files = list_images(cfg.data, recursive=True)
    return split_files(files, min(cfg.val_images, max(0, len(files) - 1)))


def write_split(path: Path, train_files: list[Path], val_files: list[Path]) -> None:
    """RUN_DIR/split.json: the two lists of paths."""
    path.write_text(json.dumps({"train": [str(p) for p in train_files], "val": [str(p) for p in val_files]}, indent=1))


def load_images(files: list[Path], max_side: int) -> list[np.ndarray]:
    return [load_training_image(p, max_side) for p in files]


def load_data(
    cfg: TrainConfig, out: Path, log: Callable[[str], object]
) -> tuple[list[np.ndarray], list[np.ndarray], float]:
    """(training images, validation images, start time); the first process writes RUN_DIR/split.json.
    UsageError for a crop the loss cannot use, InputError for a folder without images or a corrupt one."""
    check_crop(cfg.crop)
    train_files, val_files = split_folder(cfg)
    if is_main():
        write_split(out / "split.json", train_files, val_files)
    t0 = time.time()
    train_imgs, val_imgs = load_images(train_files, cfg.max_side), load_images(val_files, cfg.max_side)
    if is_main():
        log(f"loaded {len(train_imgs)} training and {len(val_imgs)} validation images in {time.time() - t0:.0f} s")
    return train_imgs, val_imgs, t0


class CropSampler:
    """Random crops with horizontal/vertical flips from images held in memory."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int) -> None:
        self.images = [im for im in images if min(im.shape[:2]) >= crop]
        if not self.images:
            largest = max((min(im.shape[:2]) for im in images), default=0)
            raise UsageError(
                f"--crop {crop}: no training image is at least {crop} px on both sides (the largest shorter "
                f"side is {largest} px, after downscaling to --max-side); use a smaller --crop"
            )
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        """(n, 3, crop, crop) float in [0, 1]."""
        out = np.empty((n, self.crop, self.crop, 3), dtype=np.uint8)
        for i in range(n):
            out[i] = self.crop_one()
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div(255.0)

    def crop_one(self) -> np.ndarray:
        im = self.images[self.rng.integers(len(self.images))]
        y = self.rng.integers(im.shape[0] - self.crop + 1)
        x = self.rng.integers(im.shape[1] - self.crop + 1)
        c = im[y : y + self.crop, x : x + self.crop]
        if self.rng.random() < 0.5:
            c = c[:, ::-1]
        if self.rng.random() < 0.5:
            c = c[::-1]
        return c
