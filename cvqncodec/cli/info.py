"""``cvq info`` and ``cvq models``: a .cvq header and the available weights. ``info`` and every ``--help``
import no torch (a header prints in a fraction of a second)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import CvqError, ModelError
from .common import EPILOG, WEIGHTS_HINT, handle_errors


def read_cvq(path: str) -> bytes:
    """A .cvq file's bytes, or stdin's for '-' (BitstreamError, exit 4, when unreadable)."""
    from ..errors import BitstreamError

    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except IsADirectoryError:
        raise BitstreamError(f"{path}: is a directory") from None
    except OSError as exc:
        raise BitstreamError(f"{path}: cannot read: {exc.strerror or exc}") from None


@click.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@handle_errors
def info(input: str, as_json: bool) -> None:
    """Print a .cvq file's header (loads no network)."""
    from .. import container
    from ..text import escape_control

    data = read_cvq(input)
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
        "bpp": round(len(data) * 8 / (h.height * h.width), 4),  # metrics.bpp, without importing torch
        "latent": [h.latent_channels, h.latent_height, h.latent_width],
        "tile": h.tile,
        "tiles": len(container.tile_boxes(h.latent_height, h.latent_width, h.tile)),
        "groups": [
            {"levels": q, "channels": c, "streams": len(n), "stream_bytes": sum(n)}
            for (q, c), n in zip(h.groups, h.stream_lengths)
        ],
        "permutation": h.permutation,
        "metadata": {k: len(v) for k, v in h.metadata.items()},
        "header_bytes": len(data) - sum(map(sum, h.stream_lengths)),
    }
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(  # strings from the file (and its name) are printed with control characters escaped
        f"{escape_control(input)}: CVQN .cvq v{h.version}, {h.width}x{h.height} {d['color']}, {len(data)} bytes, "
        f"{d['bpp']:.3f} bpp"
    )
    click.echo(
        f"  model {escape_control(h.model_name)} (weights {d['weights_id']}), latent {h.latent_channels}x"
        f"{h.latent_height}x{h.latent_width} in {d['tiles']} tile(s)"
        + (f" of {h.tile}x{h.tile}" if h.tile else "")
        + f", header+crc {d['header_bytes']} bytes"
    )
    if h.metadata:
        click.echo("  metadata: " + ", ".join(f"{k.upper()} {n} bytes" for k, n in d["metadata"].items()))
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
    """List the available weights (* marks the default).

    Models are found by the name stored in their weights file, in order: every folder in $CVQ_WEIGHTS
    (separated by ':'; e.g. a training run's folder, so that 'cvq decode' finds the model its files name),
    then the models installed with cvq. Exit 7 when there is none.
    """
    from ..text import escape_control
    from ..zoo import scan_models, weights_dirs

    found = scan_models()  # every weights file: unusable and shadowed ones are listed too
    if not found:
        looked = ", ".join(str(d) for d in weights_dirs())
        raise ModelError(f"no models found (looked in: {looked}); reinstall cvqncodec, or {WEIGHTS_HINT}")
    rows = [_row(m.name, m.path, m.problem, m.shadowed_by) for m in found]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        name = escape_control(r["name"])
        if "error" in r:
            click.echo(f"{name:<12} unusable: {escape_control(r['error'])}")
            continue
        if r["shadowed_by"]:
            click.echo(f"{name:<12} not used: {escape_control(r['shadowed_by'])} has the same name  {r['path']}")
            continue
        kodak = (
            f"Kodak {r['kodak_bpp']:.3f} bpp, MS-SSIM {r['kodak_ms_ssim']:.4f}"
            if r["kodak_bpp"] is not None and r["kodak_ms_ssim"] is not None
            else "Kodak: not measured"
        )
        click.echo(
            f"{name:<12}{'*' if r['default'] else ' '} {r['preset']:<8} C={r['channels']:<3} "
            f"q={','.join(map(str, r['levels']))} {r['importance']:<10} {kodak}  {escape_control(r['path'])}"
        )


def _row(name: str, path: Path, problem: str | None = None, shadowed_by: Path | None = None) -> dict:
    """What ``cvq models`` shows of one weights file (an "error" entry when it is unusable)."""
    from ..weights import load_weights
    from ..zoo import DEFAULT_MODEL

    if problem is not None:
        return {"name": name, "path": str(path), "error": problem}
    try:
        loaded = load_weights(path)
    except CvqError as exc:
        return {"name": name, "path": str(path), "error": str(exc)}
    p = loaded.model.preset
    return {
        "name": name,
        "path": str(path),
        "shadowed_by": None if shadowed_by is None else str(shadowed_by),
        "preset": p.name,
        "channels": p.latent_channels,
        "levels": list(p.levels),
        "importance": p.importance,
        "weights_id": loaded.weights_id.hex(),
        "kodak_bpp": loaded.card.get("kodak", {}).get("bpp"),
        "kodak_ms_ssim": loaded.card.get("kodak", {}).get("ms_ssim"),
        "default": name == DEFAULT_MODEL and shadowed_by is None,
    }
