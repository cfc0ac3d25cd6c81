"""``cvq train``: the paper's loss and schedule (the work, and the choice of a run's preset, is in
:mod:`cvqncodec.train`)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .common import EPILOG, handle_errors, pick_device


def parse_list(kind):
    def convert(ctx, param, value):
        if value is None:
            return None
        try:
            return tuple(kind(v) for v in value.split(","))
        except ValueError:
            raise click.BadParameter(f"expected a comma-separated list, got {value!r}") from None

    return convert


@click.command(epilog=EPILOG)
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of training images.")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Run folder (checkpoints, logs)."
)
@click.option(
    "--preset",
    default=None,
    help="Architecture preset (paper, medium, small, compact, tiny). Default: the --init model's, else compact.",
)
@click.option("--channels", type=int, default=None, help="Latent channels C (default: the preset's).")
@click.option("--importance", type=click.Choice(["predefined", "se", "re"]), default=None)
@click.option("--levels", callback=parse_list(int), default=None, help="Levels per group, e.g. 3,5,7.")
@click.option("--ratios", callback=parse_list(float), default=None, help="Channel ratios, e.g. 0.25,0.5,0.25.")
@click.option(
    "--context-filters",
    type=int,
    default=None,
    help="Filters of the 3D context model (default: the preset's; with --context-only, the --init model's).",
)
@click.option(
    "--context-blocks",
    type=int,
    default=None,
    help="Residual blocks of the 3D context model (same defaults as --context-filters).",
)
@click.option("--steps", type=int, default=20000, show_default=True)
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--crop", type=int, default=192, show_default=True, help="Random crop side in px.")
@click.option("--lr-scale", type=float, default=1.0, show_default=True, help="Multiplies the paper's learning rates.")
@click.option(
    "--lr",
    type=float,
    default=None,
    help="Learning rate of encoder, quantizer and decoder (the paper's 1e-4; the entropy model gets half): "
    "--lr 2e-4 is --lr-scale 2.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to train (auto: a GPU when there is one; under torchrun, each process's own).",
)
@click.option(
    "--mse-weight",
    type=float,
    default=0.0,
    show_default=True,
    help="Add this x MSE to the loss (0: the paper's Eq. 8; keeps colours on short runs).",
)
@click.option(
    "--chroma-weight",
    type=float,
    default=0.0,
    show_default=True,
    help="Add this x the MSE of the BT.601 chroma (Cb, Cr) to the loss (0: none; against washed-out colours).",
)
@click.option(
    "--rate-weight",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Weight of Eq. 8's rate term (lambda; above 1: fewer bits for the same distortion terms).",
)
@click.option("--val-every", type=int, default=500, show_default=True)
@click.option("--val-images", type=int, default=8, show_default=True, help="Images held out for validation.")
@click.option("--checkpoint-minutes", type=float, default=3.0, show_default=True)
@click.option("--init", type=str, default=None, help="Warm-start from a weights file (matching tensors).")
@click.option("--name", type=str, default=None, help="Model name written into the exported weights.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-bf16", is_flag=True, help="Train in float32 (bf16 autocast is the default).")
@click.option(
    "--context-only",
    is_flag=True,
    help="Fine-tune only the context models (quantization-aware) of the --init model, keeping its "
    "preset; everything else stays frozen.",
)
@click.option(
    "--encoder-only",
    is_flag=True,
    help="Fine-tune only the encoder of the --init model on Eq. 8, keeping its preset; the decoder, "
    "quantizer and context models stay frozen.",
)
@click.option("--resume", is_flag=True, help="Continue from RUN_DIR/checkpoint.pt.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@handle_errors
def train(
    data,
    out_dir,
    preset,
    channels,
    importance,
    levels,
    ratios,
    context_filters,
    context_blocks,
    steps,
    batch_size,
    crop,
    lr_scale,
    lr,
    device,
    mse_weight,
    chroma_weight,
    rate_weight,
    val_every,
    val_images,
    checkpoint_minutes,
    init,
    name,
    seed,
    no_bf16,
    context_only,
    encoder_only,
    resume,
    quiet,
) -> None:
    """Train a CVQN model with the paper's loss and schedule.

    The loss is Eq. 8 of the paper; the shippable weights are written to RUN_DIR/model.safetensors."""
    from ..train import TrainConfig, preset_for_run
    from ..train import train as run_training
    from ..train.config import lr_scale_for

    if lr is not None:
        if click.get_current_context().get_parameter_source("lr_scale") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("give --lr or --lr-scale, not both")
        if not lr > 0:
            raise click.BadParameter("must be positive", param_hint="--lr")
        lr_scale = lr_scale_for(lr)
    if context_only and encoder_only:
        raise click.UsageError("give --context-only or --encoder-only, not both")
    finetune = "context" if context_only else "encoder" if encoder_only else "all"
    if device != "auto":
        pick_device(device)  # usage error for --device cuda without CUDA, before any work

    try:
        p = preset_for_run(
            preset,
            out_dir,
            init=init,
            finetune=finetune,
            resume=resume,
            latent_channels=channels,
            importance=importance,
            levels=levels,
            ratios=ratios,
            context_filters=context_filters,
            context_blocks=context_blocks,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    cfg = TrainConfig(
        data=data,
        out=out_dir,
        steps=steps,
        batch_size=batch_size,
        crop=crop,
        lr_scale=lr_scale,
        device=device,
        mse_weight=mse_weight,
        chroma_weight=chroma_weight,
        rate_weight=rate_weight,
        val_every=val_every,
        val_images=val_images,
        checkpoint_minutes=checkpoint_minutes,
        init=init,
        seed=seed,
        bf16=not no_bf16,
        name=name,
        finetune=finetune,
    )
    run_training(p, cfg, resume=resume, progress=not quiet, log=lambda m: click.echo(m, err=True))
    if os.environ.get("RANK", "0") == "0":  # torchrun: only the first process writes and reports
        click.echo(how_to_use(Path(out_dir) / "model.safetensors"), err=True)


def how_to_use(weights: Path) -> str:
    """The closing lines of a run: the file written, and how to code with it (by path, or by name through
    $CVQ_WEIGHTS, which is what lets 'cvq decode' find the model its files name)."""
    if not weights.is_file():
        return f"no {weights} written"
    from shlex import quote

    from ..zoo import model_name

    name = model_name(weights)
    return (
        f"wrote {weights} (model {name!r})\n"
        f"  encode with it:    cvq encode IMAGE -m {quote(str(weights))}\n"
        f"  or use it by name: export CVQ_WEIGHTS={quote(str(weights.resolve().parent))}  "
        f"(then 'cvq encode -m {quote(name)}' and 'cvq decode' of its files find it)"
    )
