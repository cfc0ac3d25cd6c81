"""The ``cvq`` command: encode, decode, info, models (train and bench live in their own modules)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from . import __version__
from .cli_common import EPILOG, Log, common_options, handle_errors, load_model, pick_device
from .errors import CvqError, InputError

@click.group(epilog=EPILOG)
@click.version_option(__version__, prog_name="cvq")
def main() -> None:
    """cvq: learned image codec (CVQN, channel-level variable quantization)."""


@main.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option("-o", "--output", type=str, default=None, help="Output .cvq file, '-' for stdout "
              "(default: INPUT with .cvq suffix; stdout when INPUT is '-').")
@click.option("-m", "--model", type=str, default=None, help="Model name (see 'cvq models') or weights file.")
@click.option("-Q", "--quality", type=click.IntRange(1, 5), default=None,
              help="Rate: 1 (smallest files) .. 5 (best quality); picks model cvqn-qN.")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@handle_errors
def encode(input: str, output: str | None, model: str | None, quality: int | None, force: bool,
           device: str, quiet: bool, verbose: int) -> None:
    """Compress an image (PNG, JPEG, WebP, ...) into a .cvq file."""
    from .imageio import check_output, load_image, write_atomic
    from .metrics import bpp, ms_ssim, ms_ssim_db, psnr
    from .entropy import torchac_module
    from . import codec

    log = Log(quiet, verbose)
    if output is None:
        output = "-" if input == "-" else str(Path(input).with_suffix(".cvq"))
    check_output(output, force)
    dev = pick_device(device)
    image = load_image(input)
    lm = load_model(model, quality, dev)
    for note in image.notes:
        log.debug(f"note: {note}")
    torchac_module()  # the first run compiles the backend: keep that out of the timing
    start = time.perf_counter()
    result = codec.encode(lm, image.tensor, image.color_channels, dev, reconstruct=verbose > 0)
    seconds = time.perf_counter() - start
    write_atomic(output, result.data, force)
    _, _, h, w = image.tensor.shape
    name = "<stdout>" if output == "-" else output
    log.info(f"{name}: {len(result.data)} bytes, {bpp(len(result.data), h, w):.3f} bpp, {seconds:.2f} s "
             f"({lm.name}, {w}x{h})")
    if result.reconstruction is not None:
        ref = image.tensor
        if image.color_channels == 1:
            ref = ref[:, :1].expand(-1, 3, -1, -1)
            rec = result.reconstruction.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
        else:
            rec = result.reconstruction
        m = ms_ssim(ref, rec)
        ms = "n/a (image < 161 px)" if m is None else f"{m:.4f} ({ms_ssim_db(m):.2f} dB)"
        log.debug(f"PSNR {psnr(ref, rec):.2f} dB, MS-SSIM {ms}")


@main.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option("-o", "--output", type=str, default=None, help="Output image (.png, .ppm, .bmp, .tif, .webp),"
              " '-' for PNG on stdout (default: INPUT with .png suffix; stdout when INPUT is '-').")
@click.option("-m", "--model", type=str, default=None,
              help="Model name or weights file (default: the one named in the file).")
@click.option("-f", "--force", is_flag=True, help="Overwrite an existing output file.")
@common_options
@handle_errors
def decode(input: str, output: str | None, model: str | None, force: bool, device: str, quiet: bool,
           verbose: int) -> None:
    """Decompress a .cvq file into an image."""
    from . import codec, container
    from .entropy import torchac_module
    from .imageio import check_output, encode_image, format_for, read_bytes, to_uint8, write_atomic
    from .errors import BitstreamError

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
    lm = load_model(model, None, dev, from_file=header.model_name)
    torchac_module()
    start = time.perf_counter()
    image, _ = codec.decode(lm, header, streams, dev)
    seconds = time.perf_counter() - start
    out = encode_image(to_uint8(image, header.color_channels), format_for(output))
    write_atomic(output, out, force)
    name = "<stdout>" if output == "-" else output
    log.info(f"{name}: {header.width}x{header.height}, decoded in {seconds:.2f} s ({lm.name})")


@main.command(epilog=EPILOG)
@click.argument("input", type=str)
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@handle_errors
def info(input: str, as_json: bool) -> None:
    """Print a .cvq file's header (loads no network)."""
    from . import container
    from .errors import BitstreamError
    from .metrics import bpp

    try:
        from .imageio import read_bytes
        data = read_bytes(input)
    except InputError as exc:
        raise BitstreamError(str(exc)) from None
    h, streams = container.unpack(data)
    d = {"file": input, "bytes": len(data), "format_version": h.version, "model": h.model_name,
         "weights_id": h.weights_id.hex(), "width": h.width, "height": h.height,
         "color": "greyscale" if h.color_channels == 1 else "RGB",
         "bpp": round(bpp(len(data), h.height, h.width), 4),
         "latent": [h.latent_channels, h.latent_height, h.latent_width],
         "groups": [{"levels": q, "channels": c, "streams": len(n), "stream_bytes": sum(n)}
                    for (q, c), n in zip(h.groups, h.stream_lengths)],
         "permutation": h.permutation,
         "header_bytes": len(data) - sum(map(sum, h.stream_lengths))}
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    click.echo(f"{input}: CVQN .cvq v{h.version}, {h.width}x{h.height} {d['color']}, {len(data)} bytes, "
               f"{d['bpp']:.3f} bpp")
    click.echo(f"  model {h.model_name} (weights {d['weights_id']}), latent {h.latent_channels}x"
               f"{h.latent_height}x{h.latent_width}, header+crc {d['header_bytes']} bytes")
    for i, g in enumerate(d["groups"]):
        click.echo(f"  group {i + 1}: {g['channels']} channels x {g['levels']} levels, {g['stream_bytes']} bytes in {g['streams']} stream(s)")
    if h.permutation is not None:
        click.echo(f"  channel order: {' '.join(map(str, h.permutation))}")


@main.command(epilog=EPILOG)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@handle_errors
def models(as_json: bool) -> None:
    """List the available weights."""
    from .weights import DEFAULT_MODEL, available_models, load_weights

    rows = []
    for name, path in available_models().items():
        try:
            lm = load_weights(path)
        except CvqError as exc:
            rows.append({"name": name, "path": str(path), "error": str(exc)})
            continue
        p = lm.model.preset
        rows.append({"name": name, "path": str(path), "preset": p.name, "channels": p.latent_channels,
                     "levels": list(p.levels), "importance": p.importance, "weights_id": lm.weights_id.hex(),
                     "kodak_bpp": lm.card.get("kodak", {}).get("bpp"),
                     "kodak_ms_ssim": lm.card.get("kodak", {}).get("ms_ssim"),
                     "default": name == DEFAULT_MODEL})
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
        kodak = (f"Kodak {r['kodak_bpp']:.3f} bpp, MS-SSIM {r['kodak_ms_ssim']:.4f}"
                 if r["kodak_bpp"] is not None and r["kodak_ms_ssim"] is not None else "Kodak: not measured")
        click.echo(f"{r['name']:<12}{'*' if r['default'] else ' '} {r['preset']:<8} C={r['channels']:<3} "
                   f"q={','.join(map(str, r['levels']))} {r['importance']:<10} {kodak}  {r['path']}")


def parse_list(kind):
    def convert(ctx, param, value):
        if value is None:
            return None
        try:
            return tuple(kind(v) for v in value.split(","))
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}") from None
    return convert


@main.command(epilog=EPILOG)
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, logs).")
@click.option("--preset", default="compact", show_default=True, help="Architecture preset (paper, medium, small, compact, tiny).")
@click.option("--channels", type=int, default=None, help="Latent channels C (default: the preset's).")
@click.option("--importance", type=click.Choice(["predefined", "se", "re"]), default=None)
@click.option("--levels", callback=parse_list(int), default=None, help="Levels per group, e.g. 3,5,7.")
@click.option("--ratios", callback=parse_list(float), default=None, help="Channel ratios, e.g. 0.25,0.5,0.25.")
@click.option("--context-filters", type=int, default=None,
              help="Filters of the 3D context model (default: the preset's; with --context-only, the --init model's).")
@click.option("--context-blocks", type=int, default=None,
              help="Residual blocks of the 3D context model (same defaults as --context-filters).")
@click.option("--steps", type=int, default=20000, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--crop", type=int, default=192, show_default=True, help="Random crop side in px.")
@click.option("--lr-scale", type=float, default=1.0, show_default=True, help="Multiplies the paper's learning rates.")
@click.option("--mse-weight", type=float, default=0.0, show_default=True,
              help="Add this x MSE to the loss (0: the paper's Eq. 8; keeps colours on short runs).")
@click.option("--val-every", type=int, default=500, show_default=True)
@click.option("--val-images", type=int, default=8, show_default=True, help="Images held out for validation.")
@click.option("--checkpoint-minutes", type=float, default=3.0, show_default=True)
@click.option("--init", type=str, default=None, help="Warm-start from a weights file (matching tensors).")
@click.option("--name", type=str, default=None, help="Model name written into the exported weights.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-bf16", is_flag=True, help="Train in float32 (bf16 autocast is the default).")
@click.option("--context-only", is_flag=True,
              help="Fine-tune only the context models (quantization-aware) of the --init model, keeping its "
                   "preset; everything else stays frozen.")
@click.option("--resume", is_flag=True, help="Continue from RUN_DIR/checkpoint.pt.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def train(data, out_dir, preset, channels, importance, levels, ratios, context_filters, context_blocks, steps,
          batch_size, crop, lr_scale, mse_weight, val_every, val_images, checkpoint_minutes, init, name, seed, no_bf16,
          context_only, resume, quiet) -> None:
    """Train a CVQN model with the paper's loss and schedule.

    The loss is Eq. 8 of the paper; the shippable weights are written to RUN_DIR/model.safetensors."""
    from .presets import get_preset
    from .train import TrainConfig, train as run_training
    context_overrides = {k: v for k, v in {"context_filters": context_filters,
                                           "context_blocks": context_blocks}.items() if v is not None}
    overrides = {k: v for k, v in {"latent_channels": channels, "importance": importance, "levels": levels,
                                   "ratios": ratios}.items() if v is not None}
    try:
        p = get_preset(preset, **overrides, **context_overrides)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if context_only:
        if not init:
            raise click.UsageError("--context-only fine-tunes an existing model: give it with --init")
        from .weights import read_weights
        try:
            p = read_weights(init)[1].replace(**context_overrides)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    if resume and (Path(out_dir) / "checkpoint.pt").exists():
        import torch
        from .presets import Preset
        saved = torch.load(Path(out_dir) / "checkpoint.pt", map_location="cpu", weights_only=True)
        p = Preset.from_json(saved["preset"])
    cfg = TrainConfig(data=data, out=out_dir, steps=steps, batch_size=batch_size, crop=crop, lr_scale=lr_scale,
                      mse_weight=mse_weight,
                      val_every=val_every, val_images=val_images, checkpoint_minutes=checkpoint_minutes,
                      init=init, seed=seed, bf16=not no_bf16, name=name, context_only=context_only)
    run_training(p, cfg, resume=resume, progress=not quiet, log=lambda m: click.echo(m, err=True))
    if os.environ.get("RANK", "0") == "0":  # torchrun: only the first process writes and reports
        click.echo(f"wrote {Path(out_dir) / 'model.safetensors'}", err=True)


# --- subcommands defined in other modules (one main.add_command line each) ---
from .analyze_cli import analyze  # noqa: E402
from .bench_cli import bench  # noqa: E402

main.add_command(analyze)
main.add_command(bench)


def run() -> None:
    main(prog_name="cvq")


if __name__ == "__main__":
    run()
