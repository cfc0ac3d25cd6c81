"""PSNR, MS-SSIM and bpp against hand-computed values and an independent MS-SSIM implementation."""

import math

import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view
from pytorch_msssim import ms_ssim as reference_ms_ssim

from cvqncodec import metrics
from cvqncodec.metrics import chroma_spread, colour_error
from tests.helpers import image_tensor

pytestmark = pytest.mark.usefixtures("one_thread")


def constant(value: int, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.full((1, 3, h, w), value / 255.0)


def test_psnr_of_a_constant_error_of_one_level():
    # MSE = 1 on the 8-bit scale: PSNR = 10 log10(255^2) = 48.1308 dB
    assert metrics.psnr(constant(100), constant(101)) == pytest.approx(48.1308, abs=1e-4)
    # MSE = 4 (error 2): 6.02 dB less
    assert metrics.psnr(constant(100), constant(102)) == pytest.approx(48.1308 - 6.0206, abs=1e-4)


def test_psnr_is_measured_on_8bit_values():
    a = image_tensor(24, 32)
    assert metrics.psnr(a, a) == math.inf
    assert metrics.psnr(a, (a + 0.3 / 255).clamp(0, 1)) == math.inf  # rounds to the same 8-bit values
    assert metrics.psnr(a, a.flip(-1)) < 20


def test_bpp_counts_the_whole_file():
    assert metrics.bpp(1000, 100, 80) == pytest.approx(1.0)
    assert metrics.bpp(3391, 400, 640) == pytest.approx(0.10597, abs=1e-5)


def test_ms_ssim_db():
    assert metrics.ms_ssim_db(0.9) == pytest.approx(10.0)
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)
    assert metrics.ms_ssim_db(0.999) == pytest.approx(30.0)
    assert metrics.ms_ssim_db(1.0) == math.inf


def test_ms_ssim_identical_degraded_and_too_small():
    a = image_tensor(176, 192)
    assert metrics.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
    noisy = (a + 0.05 * torch.randn(a.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    worse = (a + 0.15 * torch.randn(a.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    m1, m2 = metrics.ms_ssim(a, noisy), metrics.ms_ssim(a, worse)
    assert 0 < m2 < m1 < 1
    assert metrics.ms_ssim(a[..., :160, :], a[..., :160, :]) is None  # < 161 px: 5 scales are undefined


def _gauss(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' Gaussian filtering of a 2-D array."""
    out = sliding_window_view(img, len(g), axis=0) @ g
    return sliding_window_view(out, len(g), axis=1) @ g


def numpy_ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """MS-SSIM of Wang, Simoncelli & Bovik (2003) in float64: 11-px Gaussian window (sigma 1.5), K = (0.01,
    0.03), data range 255, 2x2 average downsampling, weights of the paper; per channel, then averaged."""
    weights = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gauss()
    values = []
    for ch in range(x.shape[0]):
        a, b = x[ch].astype(np.float64), y[ch].astype(np.float64)
        factors = []
        for level, w in enumerate(weights):
            mu_a, mu_b = _filter(a, g), _filter(b, g)
            var_a = _filter(a * a, g) - mu_a**2
            var_b = _filter(b * b, g) - mu_b**2
            cov = _filter(a * b, g) - mu_a * mu_b
            cs = (2 * cov + c2) / (var_a + var_b + c2)
            if level < len(weights) - 1:
                factors.append(max(cs.mean(), 0) ** w)
                assert a.shape[0] % 2 == 0 and a.shape[1] % 2 == 0
                a = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))
                b = b.reshape(b.shape[0] // 2, 2, b.shape[1] // 2, 2).mean(axis=(1, 3))
            else:
                ssim = ((2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)) * cs
                factors.append(max(ssim.mean(), 0) ** w)
        values.append(float(np.prod(factors)))
    return float(np.mean(values))


def test_ms_ssim_matches_pytorch_msssim_and_an_independent_implementation():
    a = image_tensor(176, 192, seed=1)
    b = (a + 0.08 * torch.randn(a.shape, generator=torch.Generator().manual_seed(3))).clamp(0, 1)
    ours = metrics.ms_ssim(a, b)
    a8, b8 = metrics.to_8bit(a), metrics.to_8bit(b)
    assert ours == pytest.approx(float(reference_ms_ssim(a8, b8, data_range=255.0)), abs=1e-6)
    assert ours == pytest.approx(numpy_ms_ssim(a8[0].numpy(), b8[0].numpy()), abs=2e-4)
    assert 0.5 < ours < 0.99


def test_colour_error_is_the_signed_mean_difference_per_channel():
    a = torch.full((1, 3, 8, 8), 100 / 255)
    b = a.clone()
    b[:, 1] -= 3 / 255  # greener original: the decoded image lost 3 levels of green
    b[:, 2, :4] += 2 / 255
    r, g, bl = colour_error(a, b)
    assert (r, round(g, 6), round(bl, 6)) == (0.0, -3.0, 1.0)


def test_chroma_spread_ratio_of_cb_and_cr_deviations():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand((1, 3, 32, 32), generator=gen) * 0.8 + 0.1
    grey = a.mean(dim=1, keepdim=True)
    washed = grey + 0.5 * (a - grey)  # halfway to grey: every chroma deviation halves
    cb, cr = chroma_spread(a, washed)
    assert cb == pytest.approx(0.5, abs=0.02) and cr == pytest.approx(0.5, abs=0.02)
    assert chroma_spread(a, a) == (1.0, 1.0)
    assert chroma_spread(grey.expand(-1, 3, -1, -1), a) == (None, None)


def test_rgb_to_chroma_is_bt601_without_offset():
    primaries = torch.eye(3).reshape(3, 3, 1, 1)  # red, green, blue
    cb, cr = metrics.rgb_to_chroma(primaries).flatten(1).tolist()
    assert cb == pytest.approx([-0.168736, -0.331264, 0.5]) and cr == pytest.approx([0.5, -0.418688, -0.081312])
    assert metrics.rgb_to_chroma(torch.full((1, 3, 2, 2), 0.7)).abs().max() < 1e-6  # grey has no chroma
