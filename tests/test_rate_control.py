"""Rate control: the model nearest the target, then lambda bisected until the file lands within tolerance."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from cvqncodec import codec, rate_control
from cvqncodec.refine import RefineSettings
from cvqncodec.weights import load_weights
from tests.helpers import image_tensor, make_weights


def test_a_plain_encode_near_the_target_is_taken_as_it_is(tmp_path):
    small = load_weights(make_weights(tmp_path / "a.safetensors", seed=0, name="a"))
    other = load_weights(make_weights(tmp_path / "b.safetensors", seed=3, name="b"))
    x = image_tensor(48, 64)
    target = len(codec.encode(other, x).data)
    found = rate_control.encode_to_size([small, other], x, target, RefineSettings(steps=0))
    assert found.reached and found.rate_weight is None and len(found.encoded.data) == target
    assert [p.model for p in found.probes] == ["a", "b"]


def test_lambda_is_bisected_until_the_size_lands(monkeypatch):
    """A stand-in coder whose file shrinks smoothly with lambda (as refined files do): the search must land
    within the tolerance of any target in its range, and say so."""

    def fake_encode(loaded, image, color_channels=3, device="cpu", refine=None, progress=None):
        weight = 1.0 if refine is None else refine.rate_weight
        return SimpleNamespace(data=b"x" * round(loaded.base / weight**0.3))

    monkeypatch.setattr(rate_control.codec, "encode", fake_encode)
    models = [SimpleNamespace(name="q1", base=1000), SimpleNamespace(name="q2", base=2000)]
    for target in (700, 1300, 1500, 2600):
        found = rate_control.encode_to_size(models, None, target, RefineSettings(steps=5))
        assert found.reached, (target, found.probes)
        assert abs(len(found.encoded.data) - target) <= rate_control.TOLERANCE * target
        assert found.model.name == ("q1" if target < math.sqrt(1000 * 2000) else "q2")
        assert len(found.probes) <= 2 + rate_control.MAX_PROBES
    far = rate_control.encode_to_size(models, None, 50, RefineSettings(steps=5))
    assert not far.reached and far.span[0] > 50  # out of reach: the caller refuses it
    assert len(far.probes) == 2 + 2  # lambda = 1, then the end of the range: no bisection beyond it


def test_bad_targets_are_refused():
    with pytest.raises(ValueError):
        rate_control.encode_to_size([], None, 100, RefineSettings())
