"""Building and loading torchac's backend: one build per torch, Python ABI, compiler and torchac source,
shared by every environment; safe when several processes build at once; exit 8 without a compiler."""

from __future__ import annotations

import shutil
import sys
import threading
import time

import pytest
import torch

from cvqncodec import torchac_loader as tl
from cvqncodec.errors import BackendError


def test_the_build_folder_does_not_depend_on_the_environment(monkeypatch):
    cxx = tl.compiler()
    here = tl.backend_dir(cxx)
    monkeypatch.setattr(sys, "prefix", "/some/other/venv")
    assert tl.backend_dir(cxx) == here
    assert torch.__version__.replace("+", "-") in here.name and tl.python_abi() in here.name


def test_the_key_changes_with_torch_python_compiler_and_source():
    base = ("2.13.0+cpu", "cpython-311-x86_64-linux-gnu", "/usr/bin/g++-12", b"src")
    keys = {
        tl.build_key(*base),
        tl.build_key("2.14.0+cpu", *base[1:]),
        tl.build_key(base[0], "cpython-312-x86_64-linux-gnu", *base[2:]),
        tl.build_key(*base[:2], "/usr/bin/clang++-18", base[3]),
        tl.build_key(*base[:3], b"other source"),
    }
    assert len(keys) == 5
    assert tl.build_key(*base).startswith("torch-2.13.0-cpu-cpython-311-x86_64-linux-gnu-src")
    assert "-gxx-12-" in tl.build_key(*base)


def _writes_library(work):
    (work / tl.LIBRARY).write_bytes(b"built")
    return work / tl.LIBRARY


def test_concurrent_first_builds_build_once(tmp_path):
    target = tmp_path / "torchac" / "key" / tl.LIBRARY
    calls = []

    def build(work):
        calls.append(work)
        time.sleep(0.2)
        return _writes_library(work)

    threads = [threading.Thread(target=tl.ensure_built, args=(target, build)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and target.read_bytes() == b"built"
    assert sorted(p.name for p in target.parent.parent.iterdir()) == ["key", "key.lock"]  # no work folders left


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "torchac" / "key" / tl.LIBRARY

    def fails(work):
        (work / "half.o").write_bytes(b"")
        raise BackendError("no")

    with pytest.raises(BackendError):
        tl.ensure_built(target, fails)
    assert not target.exists() and [p.name for p in target.parent.parent.iterdir()] == ["key.lock"]
    assert tl.ensure_built(target, _writes_library)  # the lock was released
    assert target.read_bytes() == b"built"


def test_no_compiler_is_exit_8_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert tl.compiler() is None
    with pytest.raises(BackendError, match="no C\\+\\+ compiler found.*apt install g\\+\\+") as info:
        tl.load_backend()
    assert info.value.exit_code == 8


def test_without_a_compiler_a_build_made_with_another_is_used(tmp_path, monkeypatch):
    built = tl.backend_dir(tl.compiler()) / tl.LIBRARY
    if not built.exists():
        pytest.skip("no shared build of the backend in this cache")
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    other = tl.backend_dir("/opt/other/bin/clang++") / tl.LIBRARY
    other.parent.mkdir(parents=True)
    shutil.copy(built, other)
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    assert hasattr(tl.load_backend(), "encode_cdf")
