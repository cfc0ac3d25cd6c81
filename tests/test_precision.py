"""Coding precision: bf16 where the CPU has the kernels, float32 on request, the latent unaffected."""

from __future__ import annotations

import pytest
import torch

from cvqncodec import precision
from cvqncodec.codec import decode, encode
from cvqncodec.container import unpack
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor, make_weights


def test_float32_requested_in_the_environment_wins(monkeypatch):
    monkeypatch.setenv(precision.PRECISION_ENV, "float32")
    assert not precision.coding_in_bf16("cpu")
    with precision.transform_precision("cpu"):
        assert not torch.is_autocast_enabled("cpu")


def test_automatic_precision_follows_the_hardware(monkeypatch):
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    assert precision.coding_in_bf16("cpu") == precision.bf16_is_fast("cpu")
    monkeypatch.setattr(precision, "_cpu_bf16_kernels", lambda: False)
    assert not precision.coding_in_bf16("cpu")
    monkeypatch.setattr(precision, "_cpu_bf16_kernels", lambda: True)
    assert precision.coding_in_bf16("cpu")
    with precision.transform_precision("cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_layout_helpers_round_trip(tmp_path):
    loaded = load_weights(make_weights(tmp_path / "w.safetensors"))
    conv = next(m for m in loaded.model.decoder.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size[0] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)  # the loader's layout
    precision.use_contiguous_format(loaded.model)
    assert conv.weight.is_contiguous() and not conv.weight.is_contiguous(memory_format=torch.channels_last)
    precision.use_channels_last(loaded.model)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert precision.channels_last(torch.randn(1, 3, 8, 8)).is_contiguous(memory_format=torch.channels_last)


@pytest.mark.skipif(not precision.bf16_is_fast("cpu"), reason="this CPU has no bf16 kernels")
def test_bf16_coding_decodes_exactly_and_reconstructs_close_to_float32(tmp_path, monkeypatch):
    loaded = load_weights(make_weights(tmp_path / "w.safetensors"))
    image = image_tensor(48, 64)
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)
    result = encode(loaded, image, reconstruct=True)
    header, streams = unpack(result.data)
    decoded, latent = decode(loaded, header, streams)
    for a, b in zip(latent.groups, result.latent.groups):
        assert torch.equal(a, b)
    assert torch.equal(decoded, result.reconstruction)
    monkeypatch.setenv(precision.PRECISION_ENV, "float32")
    reference, _ = decode(loaded, header, streams)
    assert (decoded - reference).abs().max() < 0.05
    assert not torch.equal(decoded, reference)  # bf16 really ran
