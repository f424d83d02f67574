"""The `stackguide` command group: the options every command shares."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click


@click.group()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Index and cache folder [env STACKGUIDE_DATA_DIR; default .stackguide].",
)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens (to stderr).")
@click.version_option(package_name="stackguide")
def cli(data_dir: Path | None, verbose: bool) -> None:
    """StackGuide: cited answers to backend stack questions, from its corpus only."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
