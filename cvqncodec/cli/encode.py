"""``cvq encode``: images into .cvq files, one or many (see :mod:`.batch`). The per-file work is
:func:`encode_file`, driven by an :class:`EncodeOptions`: a new encoder setting is one more field there and
one more click option here."""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from ..effort import DEFAULT_EFFORT, EFFORT_STEPS
from .batch import Job, Outcome, make_outdir, plan_jobs, run_batch
from .common import EPILOG, Log, cached_model, common_options, handle_errors, model_options, pick_device


@dataclass(frozen=True)
class EncodeOptions:
    """Everything one file's encoding depends on (picklable: it travels to worker processes)."""

    model: str | None = None
    quality: int | None = None
    device: str = "cpu"
    force: bool = False
    #: Also decode and measure PSNR / MS-SSIM of the reconstruction (-v).
    metrics: bool = False
    #: 1 (a plain encode) .. 9: refinement steps of the latent for this image (:mod:`cvqncodec.refine`).
    effort: int = 1
    #: A progress bar on stderr for encodes that last (single files; batches have their own bar).
    progress: bool = False
    #: Rate control: a target in bits per pixel or in bytes (at most one; :mod:`cvqncodec.rate_control`).
    target_bpp: float | None = None
    target_size: int | None = None
    #: --strip: leave the source's ICC profile, EXIF and XMP out of the .cvq file.
    strip: bool = False


def encode_file(opts: EncodeOptions, job: Job) -> Outcome:
    """Encode ``job.source`` into ``job.target``; CvqError (with its exit code) on failure."""
    from .. import codec, container
    from ..imageio import check_output, load_image, write_atomic
    from ..metrics import bpp
    from ..refine import RefineSettings
    from ..torchac_loader import torchac_module

    check_output(job.target, opts.force)
    image = load_image(job.source)  # a bad input fails (exit 3) before any model is loaded
    _, _, h, w = image.tensor.shape
    container.check_image_shape(h, w)  # exit 3 before the work, not after it
    target = _target_bytes(opts, h, w)
    # Rate control loads its own candidates (the default model among them): no model of -q/-m here.
    loaded = cached_model(opts.model, opts.quality, opts.device) if target is None else None
    torchac_module()  # the first run compiles the backend: keep that out of the timing
    settings = RefineSettings.for_effort(opts.effort)
    start = time.perf_counter()
    notes, warnings = list(image.notes), list(image.warnings)
    with _progress_bar(opts.progress and (settings.steps > 0 or target is not None)) as progress:
        if loaded is not None:
            result = codec.encode(
                loaded, image.tensor, image.color_channels, opts.device, refine=settings, progress=progress
            )
        else:
            result, loaded, note, missed = _encode_to_target(opts, image, settings, target, progress)
            notes.append(note)
            warnings += [missed] if missed else []
    seconds = time.perf_counter() - start
    data = result.data
    if image.metadata and opts.strip:
        notes.append("metadata left out (--strip)")
    elif image.metadata:  # added after coding (and after rate control: it comes on top of a --size target)
        data = container.with_metadata(result.data, image.metadata)
        notes.append(f"metadata: {len(data) - len(result.data)} bytes (--strip leaves it out)")
    write_atomic(job.target, data, opts.force)
    name = "<stdout>" if job.target == "-" else job.target
    effort = "" if opts.effort == 1 else f", effort {opts.effort}"
    message = (
        f"{name}: {len(data)} bytes, {bpp(len(data), h, w):.3f} bpp, {seconds:.2f} s ({loaded.name}{effort}, {w}x{h})"
    )
    details = [_quality_line(image, loaded, result, opts.device)] if opts.metrics else []
    return Outcome(job, 0, message, notes, details, len(data), h * w, warnings)


def _target_bytes(opts: EncodeOptions, height: int, width: int) -> int | None:
    if opts.target_size is not None:
        return opts.target_size
    if opts.target_bpp is not None:
        return max(1, round(opts.target_bpp * height * width / 8))
    return None


def _encode_to_target(opts: EncodeOptions, image, settings, target: int, progress):
    """(EncodeResult, the model used, a -v note, a warning or None): the file nearest ``target`` bytes
    (--bpp/--size); the warning says when it is not within the tolerance; exit 2 when the target lies outside
    every size this image can take."""
    from ..errors import UsageError
    from ..rate_control import TOLERANCE, encode_to_size
    from ..zoo import QUALITIES, available_models, quality_model

    if opts.model:
        names = [opts.model]
    else:
        names = [quality_model(q) for q in QUALITIES if quality_model(q) in available_models()]
    candidates = [cached_model(name, None, opts.device) for name in names]
    found = encode_to_size(
        candidates, image.tensor, target, settings, image.color_channels, opts.device, progress=progress
    )
    low, high = found.span
    if not low <= target <= high:
        raise UsageError(
            f"a target of {target} bytes is out of reach for this image: its files take {low}..{high} bytes"
        )
    size = len(found.encoded.data)
    weight = "plain" if found.rate_weight is None else f"rate weight {found.rate_weight:.3g}"
    note = f"rate control: {found.model.name}, {weight}, {size} bytes for a target of {target}"
    missed = None
    if not found.reached:
        missed = (
            f"{size} bytes is {100 * (size / target - 1):+.1f} % off the target of {target}: not within "
            f"{round(100 * TOLERANCE)} %, the nearest file the models and rate weights reach"
        )
    return found.encoded, found.model, note, missed


@contextlib.contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A tqdm bar on stderr that appears only once the refinement has run for 2 s; yields the callback
    ``progress(done, total)`` that :func:`cvqncodec.codec.encode` calls, or None."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(desc="cvq encode", unit="step", file=sys.stderr, delay=2.0, leave=False, dynamic_ncols=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


def _quality_line(image, loaded, result, device: str) -> str:
    from ..imageio import as_decoded
    from ..metrics import MS_SSIM_MIN_SIDE, ms_ssim, ms_ssim_db, psnr

    _, _, h, w = image.tensor.shape
    reconstruction = loaded.model.reconstruct(result.latent, device)[:, :, :h, :w].cpu()
    ref = image.tensor  # greyscale sources are loaded with three equal channels
    rec = as_decoded(reconstruction, image.color_channels)
    m = ms_ssim(ref, rec)
    ms = f"n/a (image < {MS_SSIM_MIN_SIDE} px)" if m is None else f"{m:.4f} ({ms_ssim_db(m):.2f} dB)"
    return f"PSNR {psnr(ref, rec):.2f} dB, MS-SSIM {ms}"


def list_inputs(folder: Path) -> list[Path]:
    from ..imageio import list_images

    return list_images(folder)


def _bytes_and_bpp(done: list[Outcome]) -> str:
    size, pixels = sum(o.size for o in done), sum(o.pixels for o in done)
    return f"{size} bytes, {size * 8 / max(pixels, 1):.3f} bpp"


@click.command(epilog=EPILOG)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Output .cvq file, '-' for stdout (one INPUT only; default: INPUT with .cvq suffix; stdout for '-').",
)
@click.option(
    "-d", "--outdir", type=str, default=None, metavar="DIR", help="Write OUTDIR/<name>.cvq for every INPUT (created)."
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@model_options
@click.option(
    "-e",
    "--effort",
    type=click.IntRange(min(EFFORT_STEPS), max(EFFORT_STEPS)),
    default=DEFAULT_EFFORT,
    show_default=True,
    help="1 (fastest: one encoder pass) .. 9 (best): refine the latent for this image "
    f"({', '.join(f'{e}: {s} steps' for e, s in sorted(EFFORT_STEPS.items()) if e > 1)}). Same format, any decoder.",
)
@click.option(
    "--bpp",
    "target_bpp",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Rate control: aim at this many bits per pixel (picks the model and the refinement's rate weight).",
)
@click.option(
    "--size",
    "target_size",
    type=click.IntRange(min=1),
    default=None,
    metavar="BYTES",
    help="Rate control: aim at a file of this many bytes (as cwebp -size).",
)
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--strip", is_flag=True, help="Leave out the ICC profile, EXIF and XMP (kept by default).")
@common_options
@handle_errors
def encode(
    inputs: tuple[str, ...],
    output: str | None,
    outdir: str | None,
    jobs: int,
    model: str | None,
    quality: int | None,
    effort: int,
    target_bpp: float | None,
    target_size: int | None,
    force: bool,
    strip: bool,
    device: str,
    quiet: bool,
    verbose: int,
) -> None:
    """Compress images (PNG, JPEG, WebP, ...) into .cvq files.

    INPUT is an image file, '-' for stdin, or a folder (its images). With several, each INPUT.cvq is
    written beside its input or into -d DIR; files that fail are reported and the others still coded; the
    exit code is the highest of the failures'.
    """
    if model and quality:
        raise click.UsageError("give --model or --quality, not both")
    if target_bpp is not None and target_size is not None:
        raise click.UsageError("give --bpp or --size, not both")
    if quality and (target_bpp is not None or target_size is not None):
        raise click.UsageError("--bpp/--size choose the model themselves: drop --quality (or pin one with -m)")
    planned, batch = plan_jobs(inputs, output, outdir, ".cvq", list_inputs)
    opts = EncodeOptions(
        model,
        quality,
        pick_device(device),
        force,
        metrics=verbose > 0,
        effort=effort,
        progress=not quiet and not batch,
        target_bpp=target_bpp,
        target_size=target_size,
        strip=strip,
    )
    make_outdir(outdir)
    if not batch:
        _encode_one(opts, planned[0], Log(quiet, verbose))
        return
    cached_model(model, quality, opts.device)  # a missing model fails once (exit 7), before any file
    if jobs > 1:
        from ..torchac_loader import torchac_module

        torchac_module()  # compile the backend here, not in every worker at once
    code = run_batch("cvq encode", functools.partial(encode_file, opts), planned, jobs, quiet, verbose, _bytes_and_bpp)
    if code:
        sys.exit(code)


def _encode_one(opts: EncodeOptions, job: Job, log: Log) -> None:
    """A single input: errors go through handle_errors (one line, their exit code)."""
    outcome = encode_file(opts, job)
    for warning in outcome.warnings:
        log.info(f"cvq: warning: {warning}")
    for note in outcome.notes:
        log.debug(f"note: {note}")
    log.info(outcome.message)
    for line in outcome.details:
        log.debug(line)
