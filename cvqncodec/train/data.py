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

from ..imageio import list_images
from .config import TrainConfig
from .distributed import is_main

#: Seed of the fixed shuffle that holds out the validation images (the same split for every run of a folder).
SPLIT_SEED = 1234


def load_training_image(path: Path, max_side: int) -> np.ndarray:
    """RGB uint8, downscaled (Lanczos) so the longer side is at most ``max_side``."""
    im = Image.open(path).convert("RGB")
    scale = max_side / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.LANCZOS)
    return np.asarray(im)


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
    """(training images, validation images, start time); the first process writes RUN_DIR/split.json."""
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
            raise ValueError(f"no training image is at least {crop} px on both sides")
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
