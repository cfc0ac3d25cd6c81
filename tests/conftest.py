"""Shared fixtures (the helpers they use are in tests/helpers.py)."""

from __future__ import annotations

import pytest
import torch

from cvqncodec.weights import load_weights
from tests.helpers import make_weights


@pytest.fixture()
def one_thread():
    """One torch thread for tests of small convolutions: more threads only add overhead there."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("w") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_se_weights(tmp_path_factory):
    return make_weights(tmp_path_factory.mktemp("w") / "tiny-se.safetensors", importance="se", name="tiny-se")


@pytest.fixture(scope="session")
def tiny_model(tiny_weights):
    return load_weights(tiny_weights)
