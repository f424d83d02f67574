"""`stackguide ingest`: bring the index in line with the corpus files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.cli.context import EXIT_FAILED, assistant_of, fail, stderr_console
from assistant.errors import StackGuideError


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Also read symbolic links that lead out of a folder (not followed by default).",
)
@click.pass_context
def ingest(
    ctx: click.Context, paths: tuple[Path, ...], rebuild: bool, follow_symlinks: bool
) -> None:
    """Ingest PATHS (files or folders; default: the bundled corpus/)."""
    assistant = assistant_of(ctx)
    if rebuild:
        assistant.reset_index()
    try:
        with _progress() as progress:
            report = assistant.ingest(
                list(paths) or None, progress=progress, follow_symlinks=follow_symlinks
            )
    except StackGuideError as exc:
        raise fail(exc) from exc
    for source in report.skipped:
        click.echo(f"skipped (unsupported type): {source}", err=True)
    for source, reason in report.not_followed:
        click.echo(f"skipped ({reason}): {source}", err=True)
    for source, passages in report.kept_out.items():
        n = len(passages)
        click.echo(
            f"kept out of evidence ({n} passage{'s' * (n != 1)} addressed to the assistant): "
            f"{source}",
            err=True,
        )
    for source, reason in report.failed:
        click.echo(f"failed: {source}: {reason}", err=True)
    click.echo(report.summary())
    if report.failed:
        ctx.exit(EXIT_FAILED)


class _progress:
    """A progress bar on stderr for long ingests, silent when stderr is not a terminal."""

    def __enter__(self):
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from rich.progress import Progress

        self.bar = Progress(transient=True, console=stderr_console())
        self.bar.start()
        self.task = self.bar.add_task("embedding chunks", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()
