"""Pieces shared by the ``cvq`` subcommands: logging, error handling with exit codes, model loading."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import click

from ..errors import BROKEN_PIPE, EXIT_CODES, CvqError, InputError, ModelError
from ..text import escape_control
from ..zoo import QUALITIES

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
            click.echo(f"cvq: error: {escape_control(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:  # stdout closed early (`cvq info f.cvq | head -c 0`): quiet, as Unix tools
            quiet_broken_pipe()
            sys.exit(BROKEN_PIPE)
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
            if isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc):  # torch's allocator
                click.echo("cvq: error: out of memory (try a smaller image)", err=True)
                sys.exit(InputError.exit_code)
            text = escape_control(f"{type(exc).__name__}: {exc}")
            click.echo(f"cvq: internal error: {text} (rerun with -v for details)", err=True)
            sys.exit(1)

    return wrapper


def quiet_broken_pipe() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again on exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):  # no real stdout (click's test runner)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def quiet_option(func):
    """``--quiet`` (long only: ``-q`` is the quality where a command picks a model, as in cwebp and cjxl)."""
    return click.option("--quiet", is_flag=True, help="Print nothing on success (errors still go to stderr).")(func)


def common_options(func):
    func = click.option("-v", "--verbose", count=True, help="More detail on stderr (metrics, timings).")(func)
    func = quiet_option(func)
    func = click.option(
        "--device",
        type=click.Choice(["auto", "cpu", "cuda"]),
        default="auto",
        show_default=True,
        help="Where to run the networks and the context models (the arithmetic coder runs on the CPU).",
    )(func)
    return func


def model_options(func):
    """``-m/--model`` and ``-q/--quality``: which model codes (see :func:`load_model`). ``-Q``, the quality's
    old short name, is kept hidden for one release with a note on stderr."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        old = kwargs.pop("quality_old", None)
        if old is not None:
            if not kwargs.get("quiet"):
                click.echo("cvq: note: -Q is deprecated (removed in the next release); use -q/--quality", err=True)
            if kwargs.get("quality") is None:
                kwargs["quality"] = old
        return func(*args, **kwargs)

    qualities = click.IntRange(QUALITIES[0], QUALITIES[-1])
    wrapper = click.option("-Q", "quality_old", type=qualities, default=None, hidden=True)(wrapper)
    wrapper = click.option(
        "-q",
        "--quality",
        type=qualities,
        default=None,
        help=f"Rate: {QUALITIES[0]} (smallest files) .. {QUALITIES[-1]} (best quality); picks model cvqn-qN "
        "(default 3).",
    )(wrapper)
    return click.option("-m", "--model", type=str, default=None, help="Model name (see 'cvq models') or weights file.")(
        wrapper
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
        try:
            path = resolve_model(from_file, allow_path=False)
        except ModelError as exc:
            raise ModelError(f"{exc}; {WEIGHTS_HINT}") from None
    loaded = load_weights(path)
    loaded.model.to(device)
    return loaded


#: Models loaded by this process, by what picked them (a batch's files share them; so do a pool worker's).
_loaded: dict[tuple, object] = {}


def cached_model(model: str | None, quality: int | None, device: str, from_file: str | None = None):
    """:func:`load_model`, loading each model once per process."""
    key = (model, quality, device, None if (model or quality) else from_file)
    if key not in _loaded:
        _loaded[key] = load_model(model, quality, device, from_file)
    return _loaded[key]


#: How to make a model of one's own known by name (decode finds a file's model by the name in its header).
WEIGHTS_HINT = "give its weights file with -m PATH, or add its folder to $CVQ_WEIGHTS"
