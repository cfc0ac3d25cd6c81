"""``cvq decode``: .cvq files into images, one or many (see :mod:`.batch`), in the format the output's
extension names (or --format)."""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click

from ..errors import InputError, UsageError
from .batch import Job, Outcome, make_outdir, plan_jobs, run_batch
from .common import EPILOG, Log, cached_model, common_options, handle_errors, pick_device

#: --format choices: the extensions cvq decode writes (see imageio.OUTPUT_FORMATS).
FORMATS = ("png", "jpg", "jpeg", "webp", "tif", "tiff", "ppm", "pnm", "pgm", "bmp")


@dataclass(frozen=True)
class DecodeOptions:
    """Everything one file's decoding depends on (picklable: it travels to worker processes)."""

    model: str | None = None
    device: str = "cpu"
    force: bool = False
    #: --format: an extension from FORMATS; None: the output's own extension ('-': PNG).
    fmt: str | None = None
    #: --strip: do not write the file's ICC profile, EXIF and XMP into the image.
    strip: bool = False


def output_format(target: str, fmt: str | None) -> str:
    """The Pillow format to write ``target`` in: --format, else its extension; UsageError (exit 2) for an
    unknown extension or one that contradicts --format."""
    from ..imageio import format_for, format_of_extension

    if fmt is None:
        return format_for(target)
    chosen = format_for("x." + fmt)
    if target != "-" and format_of_extension(target) not in (chosen, None):
        raise UsageError(f"{target}: the extension names another format than --format {fmt}")
    return chosen


def decode_file(opts: DecodeOptions, job: Job) -> Outcome:
    """Decode ``job.source`` into ``job.target``; CvqError (with its exit code) on failure."""
    from .. import codec, container
    from ..errors import BitstreamError
    from ..imageio import check_output, encode_image, read_bytes, to_uint8, writable_metadata, write_atomic
    from ..torchac_loader import torchac_module

    fmt = output_format(job.target, opts.fmt)
    check_output(job.target, opts.force)
    try:
        data = read_bytes(job.source)
    except InputError as exc:
        raise BitstreamError(str(exc)) from None
    header, streams = container.unpack(data)
    loaded = cached_model(opts.model, None, opts.device, from_file=header.model_name)
    torchac_module()
    start = time.perf_counter()
    image, _ = codec.decode(loaded, header, streams, opts.device)
    seconds = time.perf_counter() - start
    metadata = {} if opts.strip else header.metadata
    out = encode_image(to_uint8(image, header.color_channels), fmt, metadata)
    write_atomic(job.target, out, opts.force)
    name = "<stdout>" if job.target == "-" else job.target
    message = f"{name}: {header.width}x{header.height}, decoded in {seconds:.2f} s ({loaded.name})"
    left_out = sorted(set(metadata) - set(writable_metadata(fmt, metadata)))
    warnings = [f"{fmt} cannot carry the ICC profile: colours will look different"] if "icc" in left_out else []
    notes = [f"{k.upper()} not written: {fmt} cannot carry it" for k in left_out if k != "icc"]
    if header.metadata and opts.strip:
        notes.append("metadata not written (--strip)")
    return Outcome(job, 0, message, notes, size=len(out), pixels=header.width * header.height, warnings=warnings)


def list_inputs(folder: Path) -> list[Path]:
    """The .cvq files in a folder (by name; hidden files skipped)."""
    from ..imageio import list_images

    return list_images(folder, suffixes=(".cvq",), kind=".cvq files")


@click.command(epilog=EPILOG)
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Output image, '-' for stdout (one INPUT only; default: INPUT with the --format suffix, .png; "
    "stdout for '-'). Its extension picks the format: .png, .jpg (quality 95, 4:4:4), .webp (lossless), "
    ".tif, .ppm, .bmp.",
)
@click.option(
    "-d", "--outdir", type=str, default=None, metavar="DIR", help="Write OUTDIR/<name>.png for every INPUT (created)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS, case_sensitive=False),
    default=None,
    help="Output format, for '-', default names and names without extension (default: png).",
)
@click.option("-j", "--jobs", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes.")
@click.option(
    "-m", "--model", type=str, default=None, help="Model name or weights file (default: the one named in the file)."
)
@click.option("-f", "--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--strip", is_flag=True, help="Do not write the file's ICC profile, EXIF and XMP into the image.")
@common_options
@handle_errors
def decode(
    inputs: tuple[str, ...],
    output: str | None,
    outdir: str | None,
    fmt: str | None,
    jobs: int,
    model: str | None,
    force: bool,
    strip: bool,
    device: str,
    quiet: bool,
    verbose: int,
) -> None:
    """Decompress .cvq files into images.

    INPUT is a .cvq file, '-' for stdin, or a folder (its .cvq files). With several, each image is written
    beside its input or into -d DIR; files that fail are reported and the others still decoded; the exit
    code is the highest of the failures'.
    """
    fmt = fmt.lower() if fmt else None
    planned, batch = plan_jobs(inputs, output, outdir, "." + (fmt or "png"), list_inputs)
    for job in planned:  # an unknown extension is a usage error before any work
        output_format(job.target, fmt)
    opts = DecodeOptions(model, pick_device(device), force, fmt, strip)
    make_outdir(outdir)
    if not batch:
        outcome = decode_file(opts, planned[0])
        log = Log(quiet, verbose)
        for warning in outcome.warnings:
            log.info(f"cvq: warning: {warning}")
        for note in outcome.notes:
            log.debug(f"note: {note}")
        log.info(outcome.message)
        return
    if jobs > 1:
        from ..torchac_loader import torchac_module

        torchac_module()  # compile the backend here, not in every worker at once
    code = run_batch("cvq decode", functools.partial(decode_file, opts), planned, jobs, quiet, verbose)
    if code:
        sys.exit(code)
