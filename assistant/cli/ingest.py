"""`stackguide ingest`: bring the index in line with the corpus files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.cli.context import EXIT_FAILED, assistant_of, fail, stderr_console
from assistant.errors import StackGuideError


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--feed", "feeds", multiple=True, metavar="URL",
    help="Also ingest every article of this RSS/Atom feed or sitemap (repeatable).",
)  # fmt: skip
@click.option("--rebuild", is_flag=True, help="Drop the index and embed everything again.")
@click.option(
    "--follow-symlinks",
    is_flag=True,
    help="Also read symbolic links that lead out of a folder (not followed by default).",
)
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    feeds: tuple[str, ...],
    rebuild: bool,
    follow_symlinks: bool,
) -> None:
    """Ingest PATHS: files, folders, or article URLs (https://…); default: the bundled
    corpus/. An article is fetched, its main text kept as Markdown, and cited by its URL;
    ingesting it again downloads it only if it changed."""
    from ingest.locks import refuse_if_served

    assistant = assistant_of(ctx)
    urls = [p for p in paths if p.startswith(("http://", "https://"))]
    files: list = [Path(p) for p in paths if p not in urls]
    try:
        refuse_if_served(assistant.settings)  # an embedded index has one writer
        if rebuild:
            if not paths and not feeds:  # everything: the corpus, uploads and articles
                files = [assistant.settings.corpus_dir, *assistant.documents.managed()]
            assistant.reset_index()
        jobs = [assistant.documents.add_url(u, wait=True) for u in urls]
        jobs += [assistant.documents.add_feed(f, wait=True) for f in feeds]
        for job in jobs:
            failed = job.status != "done"
            click.echo(f"failed: {job.message}" if failed else job.message, err=failed)
        if (urls or feeds) and not files:
            ctx.exit(EXIT_FAILED if any(j.status != "done" for j in jobs) else 0)
        with _progress() as progress:
            report = assistant.ingest(files or None, progress=progress,
                                      follow_symlinks=follow_symlinks)  # fmt: skip
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
    if report.failed or any(j.status != "done" for j in jobs):
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
