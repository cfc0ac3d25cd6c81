"""The ``cvq bench`` command (registered in cli/__init__.py). Light at import: the work is in
:mod:`cvqncodec.bench`."""

from __future__ import annotations

from pathlib import Path

import click

from .common import EPILOG, handle_errors, pick_device


def _codecs_option(ctx, param, value):
    from ..bench import parse_codecs

    try:
        return parse_codecs(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(epilog=EPILOG)
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option(
    "-m",
    "--model",
    "models",
    multiple=True,
    metavar="NAME|PATH",
    help="Model to run (repeatable; each is one rate point). Default: every shipped model.",
)
@click.option("--name", default="CVQN", show_default=True, help="Curve name for the models in tables, JSON, plot.")
@click.option(
    "--codecs",
    callback=_codecs_option,
    default=None,
    metavar="LIST",
    help="Conventional codecs to compare: jpeg,webp,jpeg2000,avif,heif,jxl or 'all'.",
)
@click.option("--per-image", is_flag=True, help="Also print one row per image and setting.")
@click.option(
    "--match-bpp",
    is_flag=True,
    help="Per image, compare MS-SSIM with each codec's setting nearest to each model's bpp.",
)
@click.option(
    "--bd-method",
    type=click.Choice(["akima", "pchip", "cubic"]),
    default="akima",
    show_default=True,
    help="Interpolation for the Bjøntegaard delta rate (bjontegaard package).",
)
@click.option(
    "--json",
    "json_path",
    type=str,
    default=None,
    metavar="FILE",
    help="Write CompressAI-style results to one file (a list when several codecs ran); a folder "
    "(existing, or ending in '/') is --json-dir.",
)
@click.option(
    "--json-dir",
    type=str,
    default=None,
    metavar="DIR",
    help="Write one CompressAI results file per codec, DIR/<codec>.json (compressai.utils.plot reads them).",
)
@click.option(
    "--plot",
    "plot_path",
    type=str,
    default=None,
    metavar="FILE",
    help="Draw MS-SSIM (dB) and PSNR vs bpp (.png, .pdf or .svg; needs matplotlib).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes (one torch thread each); use 1 for timings.",
)
@click.option(
    "--crops",
    "crops_dir",
    type=str,
    default=None,
    metavar="DIR",
    help="Write side-by-side crops of every codec at the bpp nearest each model's, a PNG per image and model.",
)
@click.option("--limit", type=click.IntRange(1, None), default=None, help="Use only the first N images (by name).")
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Overwrite --json/--plot/--json-dir files; write into a non-empty --crops folder.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run the transforms (entropy coding is on the CPU).",
)
@click.option("--quiet", is_flag=True, help="No progress bar and no notes on stderr.")
@click.option("-v", "--verbose", count=True, help="Tracebacks for internal errors.")
@handle_errors
def bench(
    folder,
    models,
    name,
    codecs,
    per_image,
    match_bpp,
    bd_method,
    json_path,
    json_dir,
    plot_path,
    crops_dir,
    jobs,
    limit,
    force,
    device,
    quiet,
    verbose,
) -> None:
    """Rate-distortion and speed of the models (and conventional codecs) over the images in FOLDER.

    Every image goes through the real path (encode -> bytes -> decode); bpp counts the whole file.
    Tables go to stdout, the progress bar and notes to stderr.
    """
    from ..bench import (
        CODECS,
        available_codecs,
        check_matplotlib,
        default_models,
        json_file_names,
        plot,
        render_report,
        resolve_models,
        results_files,
        results_json,
        run_bench,
    )
    from ..bench.outputs import check_empty_folder, check_json_dir, names_a_folder, write_files
    from ..imageio import check_output, list_images, readable_images, write_atomic
    from ..text import plural

    def note(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    if json_path is not None and names_a_folder(json_path):
        if json_dir is not None:
            raise click.UsageError("--json names a folder: give it or --json-dir, not both")
        json_path, json_dir = None, json_path
    if "-" in (json_path, plot_path, json_dir, crops_dir):
        raise click.BadParameter("write to a file or folder, not '-'")
    for path in (json_path, plot_path):
        if path is not None:
            check_output(path, force)
    if crops_dir is not None:
        check_empty_folder(crops_dir, force)
    fmt = "png"
    if plot_path:
        check_matplotlib()
        fmt = Path(plot_path).suffix.lower().lstrip(".") or "png"
        if fmt not in ("png", "pdf", "svg"):
            raise click.BadParameter(f"{plot_path}: use a .png, .pdf or .svg file name", param_hint="--plot")
    if match_bpp and not codecs:
        raise click.UsageError("--match-bpp needs --codecs")
    dev = pick_device(device)
    images, skipped = readable_images(list_images(folder, limit))  # a corrupt image is skipped, not fatal
    for line in skipped:
        note(f"note: {line}")
    model_paths = resolve_models(models) if models else default_models()
    if name in [CODECS[k].label for k in codecs]:
        raise click.BadParameter(f"{name!r} is the name of a conventional codec", param_hint="--name")
    keys = available_codecs(codecs, note)
    if json_dir is not None:
        check_json_dir(json_dir, list(json_file_names([name, *(CODECS[k].label for k in keys)]).values()), force)
    result = run_bench(images, model_paths, keys, name=name, device=dev, jobs=jobs, progress=not quiet)
    click.echo(render_report(result, folder, per_image=per_image, matched=match_bpp, bd_method=bd_method))
    if json_path:
        write_atomic(json_path, results_json(result).encode(), force)
        note(f"wrote {json_path}")
    if json_dir:
        written = write_files(json_dir, {n: t.encode() for n, t in results_files(result).items()})
        note(f"wrote {', '.join(str(p) for p in written)}")
    if plot_path:
        title = f"{Path(folder).resolve().name} ({plural(len(images), 'image')})"
        write_atomic(plot_path, plot(result.curves, result.ours, title, fmt, bd_method), force)
        note(f"wrote {plot_path}")
    if crops_dir:
        from ..bench.crops import write_crops

        written = write_crops(result, crops_dir, dev)
        note(f"wrote {plural(len(written), 'crop sheet')} to {crops_dir}")
