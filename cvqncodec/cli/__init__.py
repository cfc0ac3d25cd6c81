"""The ``cvq`` command: one click group, one module per command family (light at import: each command
imports the library it drives when it runs)."""

from __future__ import annotations

import click

from .. import __version__
from .analyze import analyze
from .bench import bench
from .coding import decode, encode, info, models
from .common import EPILOG
from .train import train


@click.group(epilog=EPILOG)
@click.version_option(__version__, prog_name="cvq")
def main() -> None:
    """cvq: learned image codec (CVQN, channel-level variable quantization)."""


for command in (encode, decode, info, models, train, bench, analyze):
    main.add_command(command)


def run() -> None:
    main(prog_name="cvq")
