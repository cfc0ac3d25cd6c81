"""``cvq encode``, ``cvq decode``, ``cvq info`` and ``cvq models``: the codec's own commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from ..errors import CvqError, InputError
from .common import EPILOG, Log, common_options, handle_errors, load_model, model_options, pick_device


@click.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Output .cvq file, '-' for stdout (default: INPUT with .cvq suffix; stdout when INPUT is '-').",
)
@model_options
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@handle_errors
def encode(
    input: str,
    output: str | None,
    model: str | None,
    quality: int | None,
    force: bool,
    device: str,
    quiet: bool,
    verbose: int,
) -> None:
    """Compress an image (PNG, JPEG, WebP, ...) into a .cvq file."""
    from .. import codec
    from ..imageio import as_decoded, check_output, load_image, write_atomic
    from ..metrics import MS_SSIM_MIN_SIDE, bpp, ms_ssim, ms_ssim_db, psnr
    from ..torchac_loader import torchac_module

    log = Log(quiet, verbose)
    if output is None:
        output = "-" if input == "-" else str(Path(input).with_suffix(".cvq"))
    check_output(output, force)
    dev = pick_device(device)
    image = load_image(input)
    loaded = load_model(model, quality, dev)
    for note in image.notes:
        log.debug(f"note: {note}")
    torchac_module()  # the first run compiles the backend: keep that out of the timing
    start = time.perf_counter()
    result = codec.encode(loaded, image.tensor, image.color_channels, dev, reconstruct=verbose > 0)
    seconds = time.perf_counter() - start
    write_atomic(output, result.data, force)
    _, _, h, w = image.tensor.shape
    name = "<stdout>" if output == "-" else output
    log.info(
        f"{name}: {len(result.data)} bytes, {bpp(len(result.data), h, w):.3f} bpp, {seconds:.2f} s "
        f"({loaded.name}, {w}x{h})"
    )
    if result.reconstruction is not None:
        ref = image.tensor  # greyscale sources are loaded with three equal channels
        rec = as_decoded(result.reconstruction, image.color_channels)
        m = ms_ssim(ref, rec)
        ms = f"n/a (image < {MS_SSIM_MIN_SIDE} px)" if m is None else f"{m:.4f} ({ms_ssim_db(m):.2f} dB)"
        log.debug(f"PSNR {psnr(ref, rec):.2f} dB, MS-SSIM {ms}")


@click.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option(
    "-o",
    "--output",
    type=str,
    default=None,
    help="Output image (.png, .ppm, .bmp, .tif, .webp),"
    " '-' for PNG on stdout (default: INPUT with .png suffix; stdout when INPUT is '-').",
)
@click.option(
    "-m", "--model", type=str, default=None, help="Model name or weights file (default: the one named in the file)."
)
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@handle_errors
def decode(
    input: str, output: str | None, model: str | None, force: bool, device: str, quiet: bool, verbose: int
) -> None:
    """Decompress a .cvq file into an image."""
    from .. import codec, container
    from ..errors import BitstreamError
    from ..imageio import check_output, encode_image, format_for, read_bytes, to_uint8, write_atomic
    from ..torchac_loader import torchac_module

    log = Log(quiet, verbose)
    if output is None:
        output = "-" if input == "-" else str(Path(input).with_suffix(".png"))
    check_output(output, force)
    try:
        data = read_bytes(input)
    except InputError as exc:
        raise BitstreamError(str(exc)) from None
    header, streams = container.unpack(data)
    dev = pick_device(device)
    loaded = load_model(model, None, dev, from_file=header.model_name)
    torchac_module()
    start = time.perf_counter()
    image, _ = codec.decode(loaded, header, streams, dev)
    seconds = time.perf_counter() - start
    out = encode_image(to_uint8(image, header.color_channels), format_for(output))
    write_atomic(output, out, force)
    name = "<stdout>" if output == "-" else output
    log.info(f"{name}: {header.width}x{header.height}, decoded in {seconds:.2f} s ({loaded.name})")


@click.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@handle_errors
def info(input: str, as_json: bool) -> None:
    """Print a .cvq file's header (loads no network)."""
    from .. import container
    from ..errors import BitstreamError
    from ..metrics import bpp

    try:
        from ..imageio import read_bytes

        data = read_bytes(input)
    except InputError as exc:
        raise BitstreamError(str(exc)) from None
    h, streams = container.unpack(data)
    d = {
        "file": input,
        "bytes": len(data),
        "format_version": h.version,
        "model": h.model_name,
        "weights_id": h.weights_id.hex(),
        "width": h.width,
        "height": h.height,
        "color": "greyscale" if h.color_channels == 1 else "RGB",
        "bpp": round(bpp(len(data), h.height, h.width), 4),
        "latent": [h.latent_channels, h.latent_height, h.latent_width],
        "groups": [
            {"levels": q, "channels": c, "streams": len(n), "stream_bytes": sum(n)}
            for (q, c), n in zip(h.groups, h.stream_lengths)
        ],
        "permutation": h.permutation,
        "header_bytes": len(data) - sum(map(sum, h.stream_lengths)),
    }
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(
        f"{input}: CVQN .cvq v{h.version}, {h.width}x{h.height} {d['color']}, {len(data)} bytes, {d['bpp']:.3f} bpp"
    )
    click.echo(
        f"  model {h.model_name} (weights {d['weights_id']}), latent {h.latent_channels}x"
        f"{h.latent_height}x{h.latent_width}, header+crc {d['header_bytes']} bytes"
    )
    for i, g in enumerate(d["groups"]):
        click.echo(
            f"  group {i + 1}: {g['channels']} channels x {g['levels']} levels, "
            f"{g['stream_bytes']} bytes in {g['streams']} stream(s)"
        )
    if h.permutation is not None:
        click.echo(f"  channel order: {' '.join(map(str, h.permutation))}")


@click.command(epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def models(as_json: bool) -> None:
    """List the available weights."""
    from ..weights import load_weights
    from ..zoo import DEFAULT_MODEL, available_models

    rows = []
    for name, path in available_models().items():
        try:
            loaded = load_weights(path)
        except CvqError as exc:
            rows.append({"name": name, "path": str(path), "error": str(exc)})
            continue
        p = loaded.model.preset
        rows.append(
            {
                "name": name,
                "path": str(path),
                "preset": p.name,
                "channels": p.latent_channels,
                "levels": list(p.levels),
                "importance": p.importance,
                "weights_id": loaded.weights_id.hex(),
                "kodak_bpp": loaded.card.get("kodak", {}).get("bpp"),
                "kodak_ms_ssim": loaded.card.get("kodak", {}).get("ms_ssim"),
                "default": name == DEFAULT_MODEL,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no models found (looked in: weights/, $CVQ_WEIGHTS, <prefix>/share/cvqncodec/weights)")
        return
    for r in rows:
        if "error" in r:
            click.echo(f"{r['name']:<12} unusable: {r['error']}")
            continue
        kodak = (
            f"Kodak {r['kodak_bpp']:.3f} bpp, MS-SSIM {r['kodak_ms_ssim']:.4f}"
            if r["kodak_bpp"] is not None and r["kodak_ms_ssim"] is not None
            else "Kodak: not measured"
        )
        click.echo(
            f"{r['name']:<12}{'*' if r['default'] else ' '} {r['preset']:<8} C={r['channels']:<3} "
            f"q={','.join(map(str, r['levels']))} {r['importance']:<10} {kodak}  {r['path']}"
        )
