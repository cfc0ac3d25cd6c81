"""Held-out validation: the figures a run is chosen by."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cvqncodec.train.validation import validate
from tests.helpers import synthetic_image


class WashedOut(torch.nn.Module):
    """A stand-in model whose output is its input halfway to grey, at 0.25 bpp."""

    def forward(self, x: torch.Tensor) -> SimpleNamespace:
        grey = x.mean(dim=1, keepdim=True)
        return SimpleNamespace(x_hat=grey + 0.5 * (x - grey), bpp=torch.tensor(0.25))


def test_validation_reports_the_colour_figures_of_cvq_bench():
    images = [synthetic_image(64, 80, seed=s) for s in range(2)]
    grey = np.repeat(images[0].mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)  # no chroma spread
    v = validate(WashedOut(), [*images, grey], torch.device("cpu"))
    assert v["bpp"] == pytest.approx(0.25) and np.isnan(v["ms_ssim"])  # 64 px: too small for MS-SSIM
    assert v["chroma_spread"] == pytest.approx([0.5, 0.5], abs=0.01)  # the grey image has none to count
    assert all(abs(e) < 0.5 for e in v["mean_error"])  # halfway to grey keeps each channel's mean, nearly
