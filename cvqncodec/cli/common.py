"""Pieces shared by the ``cvq`` subcommands: logging, error handling with exit codes, model loading."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import EXIT_CODES, CvqError, InputError

EPILOG = "Exit codes: " + "; ".join(f"{k} {v.rstrip('.').split(' (')[0].lower()}" for k, v in EXIT_CODES.items())


class Log:
    def __init__(self, quiet: bool, verbose: int) -> None:
        self.quiet, self.verbose = quiet, verbose

    def info(self, msg: str) -> None:
        if not self.quiet:
            click.echo(msg, err=True)

    def debug(self, msg: str) -> None:
        if self.verbose and not self.quiet:
            click.echo(msg, err=True)


def handle_errors(func):
    """Turn CvqError into one line on stderr and its exit code; never a traceback for bad input."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CvqError as exc:
            click.echo(f"cvq: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("cvq: interrupted", err=True)
            sys.exit(130)
        except MemoryError:
            click.echo("cvq: error: out of memory (try a smaller image)", err=True)
            sys.exit(InputError.exit_code)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: one line unless --verbose
            if kwargs.get("verbose"):
                raise
            click.echo(f"cvq: internal error: {type(exc).__name__}: {exc} (rerun with -v for details)", err=True)
            sys.exit(1)

    return wrapper


def common_options(func):
    func = click.option("-v", "--verbose", count=True, help="More detail on stderr (metrics, timings).")(func)
    func = click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")(func)
    func = click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Where to run the transforms (entropy coding is on the CPU).",
    )(func)
    return func


def model_options(func):
    """``-m/--model`` and ``-Q/--quality``: which model codes (see :func:`load_model`)."""
    func = click.option(
        "-Q",
        "--quality",
        type=click.IntRange(1, 5),
        default=None,
        help="Rate: 1 (smallest files) .. 5 (best quality); picks model cvqn-qN.",
    )(func)
    return click.option("-m", "--model", type=str, default=None, help="Model name (see 'cvq models') or weights file.")(
        func
    )


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise click.UsageError("--device cuda: no CUDA device is available")
    return device


def load_model(model: str | None, quality: int | None, device: str, from_file: str | None = None):
    """The model given by --model or --quality, else the one a .cvq file names (``from_file``, looked up
    by name only), else the default."""
    from ..weights import load_weights
    from ..zoo import quality_model, resolve_model

    if model and quality:
        raise click.UsageError("give --model or --quality, not both")
    if model or quality or not from_file:
        path = resolve_model(model or (quality_model(quality) if quality else None))
    else:
        path = resolve_model(from_file, allow_path=False)
    loaded = load_weights(path)
    loaded.model.to(device)
    return loaded
