"""Running a bench: the per-process Worker, run_bench's order and descriptions, a light package import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cvqncodec.bench import CODECS, Task, Worker, run_bench
from cvqncodec.bench import runner as runner_module

pytestmark = pytest.mark.usefixtures("one_thread")


def test_worker_loads_each_model_once(folder, tiny_weights, monkeypatch):
    loads = []

    def counting_load(path, device):
        loads.append(path)
        return real_load(path, device)

    real_load = runner_module.load_model
    monkeypatch.setattr(runner_module, "load_model", counting_load)
    worker = Worker()
    for image in ("a.png", "b.png"):
        (r,) = worker.run(Task("cvqn", str(tiny_weights), str(folder / image), "CVQN"))
        assert r.image == image and r.setting == "tiny-test"
    assert loads == [str(tiny_weights)] and list(worker.models) == [str(tiny_weights)]
    assert worker.model(str(tiny_weights)) is worker.models[str(tiny_weights)] and len(loads) == 1
    assert Worker().models == {}  # nothing shared between workers


def test_worker_runs_a_codec_sweep(folder):
    records = Worker(threads=1).run(Task("jpeg", "jpeg", str(folder / "a.png"), "JPEG"))
    assert [r.setting for r in records] == [f"q={s}" for s in CODECS["jpeg"].settings]
    assert {r.image for r in records} == {"a.png"}


def test_run_bench_in_process(folder, tiny_weights):
    images = [folder / "b.png", folder / "a.png"]
    res = run_bench(images, [tiny_weights], ["jpeg"], name="Ours", progress=False)
    assert res.ours == "Ours" and res.codecs == ["JPEG"] and list(res.curves) == ["Ours", "JPEG"]
    assert list(res.descriptions) == ["Ours", "JPEG"]
    assert res.descriptions["Ours"].endswith(" on cpu: tiny-test (weights " + res.records[0].detail + ")")
    # Per-image rows: codec, rate point by bpp, then the images in the order given.
    assert [r.image for r in res.records[:2]] == ["b.png", "a.png"]
    jpeg = [r.setting for r in res.records if r.codec == "JPEG"]
    assert jpeg[::2] == [p.setting for p in res.curves["JPEG"]]


def test_import_is_light():
    code = "import sys, cvqncodec.bench as b; assert 'torch' not in sys.modules, 'torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
