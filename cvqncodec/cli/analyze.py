"""``cvq analyze``: channel influence (Sec. 2, Fig. 1) and per-channel rate of a model on an image or a
folder of images, written as a report folder (see docs/ANALYZE.md)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .common import EPILOG, Log, common_options, handle_errors, load_model, pick_device
from ..errors import InputError

#: Extensions read from a --dataset folder (not recursive; hidden files skipped).
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".gif"}


def dataset_files(folder: str) -> list[Path]:
    p = Path(folder)
    if not p.is_dir():
        raise InputError(f"{folder}: not a folder")
    try:
        files = sorted(f for f in p.iterdir()
                       if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") and f.is_file())
    except OSError as exc:
        raise InputError(f"{folder}: cannot list: {exc.strerror or exc}") from None
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


@click.command(epilog=EPILOG)
@click.argument("input", type=str, required=False)
@click.option("--dataset", type=str, default=None, metavar="DIR",
              help="Average over every image in this folder instead.")
@click.option("-o", "--output", type=str, required=True, metavar="DIR",
              help="Report folder (created; must be empty).")
@click.option("-m", "--model", type=str, default=None, help="Model name (see 'cvq models') or weights file.")
@click.option("-Q", "--quality", type=click.IntRange(1, 5), default=None, help="Pick model cvqn-qN.")
@click.option("-f", "--force", is_flag=True, help="Write into a non-empty folder, overwriting the report files.")
@common_options
@handle_errors
def analyze(input: str | None, dataset: str | None, output: str, model: str | None, quality: int | None,
            force: bool, device: str, quiet: bool, verbose: int) -> None:
    """Channel influence and rate: zero each latent channel in turn and measure the loss.

    Writes OUTPUT/channels.png, influence.csv, influence.json, influence.png and summary.txt, and prints
    the summary. INPUT is an image ('-' for stdin), or use --dataset DIR.
    """
    from tqdm import tqdm

    from .. import __version__
    from ..analysis import analyze_images
    from ..imageio import load_image
    from ..report import check_folder, write_report

    log = Log(quiet, verbose)
    if (input is None) == (dataset is None):
        raise click.UsageError("give an INPUT image or --dataset DIR (one of them)")
    check_folder(output, force)
    dev = pick_device(device)
    if dataset is not None:
        files = dataset_files(dataset)
        first = None
    else:
        first = load_image(input)  # bad input: exit 3 before any model is loaded
        files = [Path(input)]
    lm = load_model(model, quality, dev)
    net = lm.model
    label = "<stdin>" if input == "-" else str(input)

    def images():
        for i, f in enumerate(files):
            img = first if (first is not None and i == 0) else load_image(str(f))
            for note in img.notes:
                log.debug(f"note: {f.name}: {note}")
            yield (label if dataset is None else f.name), img.tensor, img.color_channels

    start = time.perf_counter()
    channels = net.preset.latent_channels
    with tqdm(total=len(files) if dataset is not None else channels, file=sys.stderr, disable=quiet,
              unit="image" if dataset is not None else "channel", leave=False, dynamic_ncols=True) as bar:
        if dataset is not None:
            def progress(c: int) -> None:
                if c == channels - 1:
                    bar.update(1)
        else:
            def progress(c: int) -> None:
                bar.update(1)
        summary = analyze_images(net, images(), dev, progress=progress)
    seconds = time.perf_counter() - start
    p = net.preset
    meta = {
        "tool": "cvq analyze", "version": __version__,
        "model": {"name": lm.name, "weights_id": lm.weights_id.hex(), "preset": p.name,
                  "channels": p.latent_channels, "levels": list(p.levels),
                  "group_channels": list(net.controller.group_channels), "importance": p.importance},
        "title": (f"{label}, model {lm.name}" if dataset is None
                  else f"{dataset} ({len(files)} images; channels of {files[0].name}), model {lm.name}"),
    }
    if dataset is not None:
        meta["dataset"] = dataset
    else:
        meta["image"] = label
    written, text = write_report(output, summary, meta, force)
    if not quiet:
        click.echo(text, nl=False)
    log.info(f"{output}: {', '.join(w.name for w in written)} ({seconds:.1f} s, {summary.images} image"
             f"{'s' if summary.images != 1 else ''}, {lm.name})")
