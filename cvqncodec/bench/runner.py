"""Running a bench: which models, one task per (model, image) and per (codec, image), run in this process
(``jobs=1``) or in a pool of spawned worker processes, each with its own :class:`Worker`."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ModelError
from ..zoo import available_models, resolve_model
from .coding import code_conventional, code_cvqn, load_model
from .conventional import CODECS
from .records import BenchResult, Point, Record, summarize

if TYPE_CHECKING:
    from ..weights import LoadedModel


@dataclass(frozen=True)
class Task:
    kind: str  # "cvqn" or a key of CODECS
    target: str  # model file for "cvqn"
    image: str  # image path
    label: str  # curve name


@dataclass
class Worker:
    """What one process codes with: the device, a thread limit for the codecs' own threads, and the models
    it has loaded (each once: loading and warm-up are not timed)."""

    device: str = "cpu"
    threads: int | None = None
    models: dict[str, LoadedModel] = field(default_factory=dict)

    def model(self, path: str) -> LoadedModel:
        """The model in the weights file ``path``, loaded on first use."""
        if path not in self.models:
            self.models[path] = load_model(path, self.device)
        return self.models[path]

    def run(self, task: Task) -> list[Record]:
        """Code one image with one model, or with one codec's whole quality sweep."""
        if task.kind == "cvqn":
            return code_cvqn(self.model(task.target), task.image, task.label, task.target, self.device)
        from ..imageio import load_image, to_uint8

        codec = CODECS[task.kind]
        codec.load()
        array = to_uint8(load_image(task.image).tensor, 3)
        return code_conventional(codec, array, Path(task.image).name, self.threads)


#: The Worker of this process when it is one of a pool's (set by the pool's initializer).
_pool_worker: Worker | None = None


def _start_pool_worker(device: str, threads: int) -> None:
    """Pool initializer: one torch thread and one Worker per process."""
    global _pool_worker
    import torch

    torch.set_num_threads(threads)
    _pool_worker = Worker(device, threads)


def _run_in_pool_worker(task: Task) -> list[Record]:
    """Pool entry point (module level so that spawned processes can import it)."""
    assert _pool_worker is not None, "not a bench pool worker"
    return _pool_worker.run(task)


def default_models() -> list[Path]:
    """Every shipped model (``cvq models``); ModelError when there is none."""
    models = available_models()
    if not models:
        raise ModelError(
            "no shipped models found (weights/, $CVQ_WEIGHTS, <prefix>/share/cvqncodec/weights); give --model NAME|PATH"
        )
    return list(models.values())


def resolve_models(names: Sequence[str]) -> list[Path]:
    """Model names or weights files -> distinct existing files; ModelError for a missing one."""
    paths = []
    for name in names:
        p = resolve_model(name)
        if not p.is_file():
            raise ModelError(f"weights file not found: {p}")
        paths.append(p.resolve())
    return list(dict.fromkeys(paths))


def run_tasks(tasks: Sequence[Task], device: str = "cpu", jobs: int = 1, progress: bool = True) -> list[Record]:
    """Every task's records, in the order they finish; a progress bar on stderr."""
    from tqdm import tqdm

    records: list[Record] = []
    with tqdm(
        total=len(tasks),
        desc="cvq bench",
        unit="task",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
        leave=False,
    ) as bar:

        def collect(results: Iterable[list[Record]]) -> None:
            for recs in results:
                records.extend(recs)
                bar.update()

        if jobs <= 1:
            collect(map(Worker(device).run, tasks))
        else:
            import multiprocessing

            if any(t.kind == "cvqn" for t in tasks):  # compile torchac's backend here, not in every worker at once
                from ..torchac_loader import torchac_module

                torchac_module()
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(jobs, initializer=_start_pool_worker, initargs=(device, 1)) as pool:
                collect(pool.imap_unordered(_run_in_pool_worker, tasks, chunksize=1))
    return records


def _sort_like_tables(records: list[Record], curves: dict[str, list[Point]], images: Sequence[Path]) -> None:
    """Per-image rows in the order of the tables: codec, rate point (by mean bpp), image."""
    rank = {(c, p.source): (i, j) for i, (c, points) in enumerate(curves.items()) for j, p in enumerate(points)}
    order = {Path(p).name: i for i, p in enumerate(images)}
    records.sort(key=lambda r: (rank[(r.codec, r.source)], order.get(r.image, 0)))


def _describe_models(records: Sequence[Record], name: str, device: str) -> str:
    from .. import __version__

    ids: dict[str, str] = {}
    for r in records:
        if r.codec == name:
            ids.setdefault(r.setting, r.detail)
    return f"cvqncodec {__version__} on {device}: " + ", ".join(f"{s} (weights {i})" for s, i in ids.items())


def run_bench(
    images: Sequence[Path],
    models: Sequence[Path],
    codecs: Sequence[str],
    *,
    name: str = "CVQN",
    device: str = "cpu",
    jobs: int = 1,
    progress: bool = True,
) -> BenchResult:
    """Code every image with every model and codec (``codecs``: available CODECS keys)."""
    tasks = [Task("cvqn", str(m), str(img), name) for m in models for img in images]
    tasks += [Task(key, key, str(img), CODECS[key].label) for key in codecs for img in images]
    records = run_tasks(tasks, device, jobs, progress)
    labels = [CODECS[k].label for k in codecs]
    curves = summarize(records, [name, *labels])
    _sort_like_tables(records, curves, images)
    descriptions = {name: _describe_models(records, name, device)}
    descriptions.update({CODECS[k].label: CODECS[k].description() for k in codecs})
    return BenchResult(list(images), records, curves, descriptions, name, labels)
