"""The ``cvq`` command: one click group, one module per command family (light at import: each command
imports the library it drives when it runs, so ``cvq info`` and every ``--help`` import no torch)."""

from __future__ import annotations

import click

from .. import __version__
from .analyze import analyze
from .bench import bench
from .common import EPILOG
from .decode import decode
from .encode import encode
from .info import info, models
from .train import train

#: -h as well as --help, on the group and (inherited) on every command.
CONTEXT = {"help_option_names": ["-h", "--help"]}


@click.group(epilog=EPILOG, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="cvq")
def main() -> None:
    """cvq: learned image codec (CVQN, channel-level variable quantization)."""


for command in (encode, decode, info, models, train, bench, analyze):
    main.add_command(command)


def run() -> None:
    main(prog_name="cvq")
