"""The conventional codecs: --codecs names, availability notes, descriptions."""

from __future__ import annotations

import pytest

from cvqncodec.bench import CODECS, available_codecs, parse_codecs


def test_parse_codecs():
    assert parse_codecs("jpeg, WebP,j2k,bpg") == ["jpeg", "webp", "jpeg2000", "heif"]
    assert parse_codecs("all") == list(CODECS)
    assert parse_codecs(None) == []
    with pytest.raises(ValueError, match="unknown codec 'mp3'"):
        parse_codecs("jpeg,mp3")


def test_missing_plugin_is_a_note(monkeypatch):
    monkeypatch.setattr(CODECS["jxl"], "unavailable", lambda: "pillow-jxl-plugin is not installed")
    notes = []
    assert available_codecs(["jpeg", "jxl"], notes.append) == ["jpeg"]
    assert notes == ["cvq bench: skipping jxl: pillow-jxl-plugin is not installed"]


@pytest.mark.parametrize("key", list(CODECS))
def test_descriptions_name_the_library_and_every_setting(key):
    codec = CODECS[key]
    reason = codec.unavailable()
    if reason:
        assert "\n" not in reason and ("pip install" in reason or "Pillow" in reason or "encoder" in reason)
        pytest.skip(reason)
    text = codec.description()
    assert text.startswith(f"{codec.label} via Pillow ") and codec.chroma in text
    assert "None" not in text and text.endswith(codec.setting_label(codec.settings[-1]))
    assert len(codec.settings) == 10
