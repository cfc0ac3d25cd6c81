"""Many files in one command (``cvq encode`` / ``cvq decode``): output names after the inputs, worker
processes, one progress bar, a summary line, and the exit code of the worst failure while the other files
still get done. Light at import: torch is imported by the work, not here."""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..errors import CvqError, OutputError


@dataclass(frozen=True)
class Job:
    """One file to code: its input and its output ('-' for stdin / stdout)."""

    source: str
    target: str


@dataclass
class Outcome:
    """What became of a :class:`Job`: exit code 0 and the success line, or the error's code and text."""

    job: Job
    exit_code: int = 0
    message: str = ""
    #: -v lines printed before the message (input conversions) and after it (metrics).
    notes: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    #: Bytes written and pixels coded (for the summary).
    size: int = 0
    pixels: int = 0
    #: Lines printed even without -v (e.g. frames of an animation that were not coded).
    warnings: list[str] = field(default_factory=list)


#: The per-file work: a module-level function (picklable, for worker processes) that raises CvqError.
Work = Callable[[Job], Outcome]


def plan_jobs(
    inputs: Sequence[str],
    output: str | None,
    outdir: str | None,
    suffix: str,
    expand: Callable[[Path], list[Path]],
) -> tuple[list[Job], bool]:
    """The jobs for the command line's inputs (folders expanded by ``expand``) and whether this is a batch
    (several files, or a folder). Outputs: ``-o`` (one input only), else OUTDIR/<name><suffix> with ``-d``,
    else the input with ``suffix``; '-' in, '-' out. click.UsageError for what cannot be honoured."""
    if output is not None and outdir is not None:
        raise click.UsageError("give -o FILE or -d DIR, not both")
    sources: list[str] = []
    folder = False
    for name in inputs:
        if name != "-" and Path(name).is_dir():
            folder = True
            sources.extend(str(p) for p in expand(Path(name)))
        else:
            sources.append(name)
    batch = folder or len(sources) > 1
    if batch and "-" in sources:
        raise click.UsageError("'-' (stdin) works with a single input only")
    if batch and output is not None:
        raise click.UsageError("-o names one output: with several inputs use -d DIR (or nothing: beside the inputs)")
    if outdir is not None and sources == ["-"]:
        raise click.UsageError("-d needs named inputs: give -o for stdin")
    jobs = [Job(s, _target(s, output, outdir, suffix)) for s in sources]
    _refuse_clashes(jobs)
    return jobs, batch


def _target(source: str, output: str | None, outdir: str | None, suffix: str) -> str:
    if output is not None:
        return output
    if source == "-":
        return "-"
    name = Path(source).with_suffix(suffix).name
    return str(Path(outdir) / name) if outdir is not None else str(Path(source).with_suffix(suffix))


def _refuse_clashes(jobs: Sequence[Job]) -> None:
    seen: dict[str, str] = {}
    for job in jobs:
        key = job.target if job.target == "-" else str(Path(job.target).resolve())
        if key in seen:
            raise click.UsageError(f"{seen[key]} and {job.source} would both be written to {job.target}")
        seen[key] = job.source


def make_outdir(outdir: str | None) -> None:
    """Create the -d folder (and its parents) if missing, as squoosh-cli and oxipng do."""
    if outdir is None:
        return
    p = Path(outdir)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{outdir}: not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create: {exc.strerror or exc}") from None


def attempt(work: Work, job: Job) -> Outcome:
    """Run ``work`` on one job, turning its failure into an Outcome (the batch goes on)."""
    try:
        return work(job)
    except CvqError as exc:
        return Outcome(job, exc.exit_code, _with_source(job.source, str(exc)))
    except MemoryError:
        return Outcome(job, 3, f"{job.source}: out of memory (try a smaller image)")
    except Exception as exc:  # a bug: this file fails, the others go on
        return Outcome(job, 1, f"{job.source}: internal error: {type(exc).__name__}: {exc}")


def _with_source(source: str, message: str) -> str:
    return message if message.startswith(source) else f"{source}: {message}"


def _start_worker() -> None:
    """Pool initializer: one torch thread per process (the processes are the parallelism); Ctrl-C is the
    main process's to handle (it stops the pool), not a traceback from every worker."""
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)


def _outcomes(work: Work, jobs: Sequence[Job], processes: int) -> Iterator[Outcome]:
    """Outcomes in the order they finish: in this process, or in a pool of spawned processes."""
    run = functools.partial(attempt, work)
    if processes <= 1:
        yield from map(run, jobs)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # no forked torch state (threads, CUDA)
    with ctx.Pool(processes, initializer=_start_worker) as pool:
        yield from pool.imap_unordered(run, jobs, chunksize=1)


def run_batch(
    label: str,
    work: Work,
    jobs: Sequence[Job],
    processes: int,
    quiet: bool,
    verbose: int,
    summary_extra: Callable[[list[Outcome]], str] | None = None,
) -> int:
    """Code every job (``processes`` at a time) under one progress bar on stderr, reporting failures as they
    come and a summary line at the end. Returns the highest exit code among the failed files (0: none)."""
    from tqdm import tqdm

    start = time.perf_counter()
    processes = max(1, min(processes, len(jobs)))
    done: list[Outcome] = []
    # No bar with --quiet, nor when stderr is not a terminal (logs get the errors and the summary only).
    with tqdm(
        total=len(jobs), desc=label, unit="file", file=sys.stderr, disable=True if quiet else None, leave=False
    ) as bar:
        for outcome in _outcomes(work, jobs, processes):
            done.append(outcome)
            _report(outcome, bar, quiet, verbose)
            bar.update()
    worst = max((o.exit_code for o in done), default=0)
    if not quiet:
        click.echo(summary(label, done, time.perf_counter() - start, processes, summary_extra), err=True)
    return worst


def _report(outcome: Outcome, bar, quiet: bool, verbose: int) -> None:
    if outcome.exit_code:
        bar.write(f"cvq: error: {outcome.message}", file=sys.stderr)
        return
    if not quiet:
        for line in outcome.warnings:
            bar.write(f"cvq: warning: {line}", file=sys.stderr)
    if verbose and not quiet:
        for line in _lines(outcome):
            bar.write(line, file=sys.stderr)


def _lines(outcome: Outcome) -> Iterable[str]:
    yield from (f"note: {outcome.job.source}: {n}" for n in outcome.notes)
    yield outcome.message
    yield from (f"  {d}" for d in outcome.details)


def summary(
    label: str,
    outcomes: Sequence[Outcome],
    seconds: float,
    processes: int,
    extra: Callable[[list[Outcome]], str] | None = None,
) -> str:
    """E.g. 'cvq encode: 11 of 12 files in 9.8 s (2 processes), 81234 bytes, 0.231 bpp; 1 failed (exit 6)'."""
    ok = [o for o in outcomes if o.exit_code == 0]
    failed = [o for o in outcomes if o.exit_code]
    text = f"{label}: {len(ok)} of {len(outcomes)} file{'s' if len(outcomes) != 1 else ''} in {seconds:.1f} s"
    if processes > 1:
        text += f" ({processes} processes)"
    if ok and extra is not None:
        text += f", {extra(ok)}"
    if failed:
        text += f"; {len(failed)} failed (exit {max(o.exit_code for o in failed)})"
    return text
