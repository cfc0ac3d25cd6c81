"""Helpers shared by the tests: tiny models with fixed random weights and generated images."""

from __future__ import annotations

import numpy as np
import torch

from cvqncodec.model import CVQN
from cvqncodec.presets import get_preset
from cvqncodec.weights import save_weights


def make_weights(path, importance: str = "predefined", seed: int = 0, name: str = "tiny-test"):
    torch.manual_seed(seed)
    model = CVQN(get_preset("tiny", importance=importance))
    # Spread the quantizer means so that random latents use every level.
    for q in model.controller.quantizers:
        q.mu.data *= 0.05
    if importance == "re":
        model.controller.re_importance.copy_(torch.randn(model.preset.latent_channels))
    save_weights(model, path, name, {"note": "random weights for tests"})
    return path


def synthetic_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour gradients plus texture and noise, uint8 (h, w, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack(
        [
            128 + 100 * np.sin(x / 7.0 + y / 13.0),
            128 + 90 * np.cos(y / 5.0) * np.sin(x / 11.0),
            255 * (x + y) / max(1, h + w - 2),
        ],
        axis=-1,
    )
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def image_tensor(h: int, w: int, seed: int = 0) -> torch.Tensor:
    a = synthetic_image(h, w, seed)
    return torch.from_numpy(a).permute(2, 0, 1).float().div(255).unsqueeze(0)
