"""`stackguide sources` and `stackguide remove`: what the corpus holds, and taking a
document out of it (the documents API's reads and deletes, from a shell)."""

from __future__ import annotations

import json

import click

from assistant.cli.context import EXIT_FAILED, assistant_of, fail
from assistant.errors import StackGuideError
from assistant.text import CONTROLS


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object, as GET /v1/documents.")
@click.pass_context
def sources(ctx: click.Context, as_json: bool) -> None:
    """List the documents in the index: title, sections, chunks, where each came from."""
    assistant = assistant_of(ctx)
    try:
        docs = assistant.documents.list()
    except StackGuideError as exc:
        raise fail(exc) from exc
    if as_json:
        click.echo(json.dumps({"documents": [d.to_dict() for d in docs]}, ensure_ascii=False))
        return
    for d in docs:  # two lines each: never cut to the terminal's width
        title = f"{d.work} › {d.title}" if d.work else d.title
        title, source = CONTROLS.sub("", title), CONTROLS.sub("", d.source)
        when = (d.ingested_at or "")[:16].replace("T", " ")
        click.echo(f"{d.id}  {d.sections:>4} sections {d.chunks:>5} chunks  {when}  {title}")
        click.echo(f"    {source}")
    n = len(docs)
    click.echo(f"{n} document{'s' * (n != 1)}, {sum(d.chunks for d in docs)} chunks", err=True)


@click.command()
@click.argument("document")
@click.pass_context
def remove(ctx: click.Context, document: str) -> None:
    """Remove DOCUMENT (its id, source name or URL, as `sources` lists them) from the
    index, with the copy kept of an upload or article. A corpus file stays on disk: ingest
    its folder again and it comes back."""
    from ingest.locks import refuse_if_served

    assistant = assistant_of(ctx)
    try:
        refuse_if_served(assistant.settings)
        doc = assistant.documents.find(document)
        job = assistant.documents.remove(doc.id, wait=True)
    except StackGuideError as exc:
        raise fail(exc) from exc
    if job.status != "done":
        click.echo(f"failed: {job.message}", err=True)
        ctx.exit(EXIT_FAILED)
    click.echo(job.message)
