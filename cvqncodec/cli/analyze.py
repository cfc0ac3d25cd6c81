"""``cvq analyze``: channel influence (Sec. 2, Fig. 1) and per-channel rate of a model on an image or a
folder of images, written as a report folder (see docs/ANALYZE.md). The work is in :mod:`cvqncodec.analyze`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .common import EPILOG, Log, common_options, handle_errors, load_model, model_options, pick_device

if TYPE_CHECKING:
    import torch


def _progress(bar, per_image: bool, channels: int) -> Callable[[int], None]:
    """Advance the bar once per channel, or once per image (after its last channel) with ``per_image``."""

    def progress(c: int) -> None:
        if not per_image or c == channels - 1:
            bar.update(1)

    return progress


@click.command(epilog=EPILOG)
@click.argument("input", type=str, required=False)
@click.option(
    "--dataset", type=str, default=None, metavar="DIR", help="Average over every image in this folder instead."
)
@click.option("-o", "--output", type=str, required=True, metavar="DIR", help="Report folder (created; must be empty).")
@model_options
@click.option("-f", "--force", is_flag=True, help="Write into a non-empty folder, overwriting the report files.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "svg", "pdf"]),
    default="png",
    show_default=True,
    help="Format of the two figures (svg and pdf: vector graphics for papers).",
)
@common_options
@handle_errors
def analyze(
    input: str | None,
    dataset: str | None,
    output: str,
    model: str | None,
    quality: int | None,
    force: bool,
    fmt: str,
    device: str,
    quiet: bool,
    verbose: int,
) -> None:
    """Channel influence and rate: zero each latent channel in turn and measure the loss.

    Writes OUTPUT/channels.png, influence.csv, influence.json, influence.png and summary.txt (the figures
    as .svg or .pdf with --format), and prints the summary. INPUT is an image ('-' for stdin), or use
    --dataset DIR. The figures need matplotlib.
    """
    from tqdm import tqdm

    from .. import __version__
    from ..analyze import analyze_images, check_folder, check_matplotlib, model_meta, write_report
    from ..imageio import list_images, load_image, readable_images
    from ..text import plural

    log = Log(quiet, verbose)
    if (input is None) == (dataset is None):
        raise click.UsageError("give an INPUT image or --dataset DIR (one of them)")
    check_matplotlib()  # exit 2 before any work, as cvq bench --plot
    check_folder(output, force)
    dev = pick_device(device)
    if dataset is not None:
        files, skipped = readable_images(list_images(dataset))  # a corrupt image is skipped with a note
        for line in skipped:
            log.info(f"note: {line}")
        first = None
    else:
        files, first = [Path(input)], load_image(input)  # bad input: exit 3 before any model is loaded
    loaded = load_model(model, quality, dev)
    net = loaded.model
    label = "<stdin>" if input in (None, "-") else Path(input).name  # titles name the file, not its folder

    def images() -> Iterator[tuple[str, torch.Tensor, int]]:
        for i, f in enumerate(files):
            img = first if (first is not None and i == 0) else load_image(str(f))
            for note in img.notes:
                log.debug(f"note: {f.name}: {note}")
            yield (label if dataset is None else f.name), img.tensor, img.color_channels

    start = time.perf_counter()
    channels = net.preset.latent_channels
    per_image = dataset is not None
    with tqdm(
        total=len(files) if per_image else channels,
        file=sys.stderr,
        disable=quiet,
        unit="image" if per_image else "channel",
        leave=False,
        dynamic_ncols=True,
    ) as bar:
        summary = analyze_images(net, images(), dev, progress=_progress(bar, per_image, channels))
    seconds = time.perf_counter() - start
    meta = {
        "tool": "cvq analyze",
        "version": __version__,
        "model": model_meta(loaded),
        "title": (
            f"{label}, model {loaded.name}"
            if dataset is None
            else f"{Path(dataset).resolve().name} ({plural(len(files), 'image')}; channels of {files[0].name}), "
            f"model {loaded.name}"
        ),
    }
    if dataset is not None:
        meta["dataset"] = dataset
    else:
        meta["image"] = "<stdin>" if input == "-" else str(input)
    written, text = write_report(output, summary, meta, force, fmt)
    if not quiet:
        click.echo(text, nl=False)
    log.info(
        f"{output}: {', '.join(w.name for w in written)} ({seconds:.1f} s, "
        f"{plural(summary.images, 'image')}, {loaded.name})"
    )
