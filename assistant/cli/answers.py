"""`stackguide ask` and `stackguide chat`: answers on the terminal, as text or JSON."""

from __future__ import annotations

import json
import sys

import click

from assistant.cli.context import EXIT_USAGE, assistant_of, fail
from assistant.errors import StackGuideError
from assistant.settings import BACKENDS, RETRIEVERS

BACKEND_CHOICE = click.Choice(BACKENDS)


@click.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option(
    "--backend",
    type=BACKEND_CHOICE,
    default=None,
    help="Answer backend: openai (an OpenAI-compatible LLM), extractive (offline), or auto "
    "(openai when STACKGUIDE_LLM_MODEL is configured) [env STACKGUIDE_BACKEND].",
)
@click.option("--retriever", type=click.Choice(RETRIEVERS), default=None)
@click.option("-k", "--top-k", type=int, default=None, help="Chunks the answer may draw on.")
@click.option("--trace", is_flag=True, help="With --json: add retrieval, gate and agent steps.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool, **options: object) -> None:
    """Answer QUESTION; with no QUESTION and piped input, answer one question per line.

    An LLM answer is printed as it is written, then checked: if the check changes it,
    the checked answer follows."""
    assistant = assistant_of(ctx, answers=True)
    kwargs = {
        "backend": options["backend"],
        "retriever": options["retriever"],
        "k": options["top_k"],
        "trace": bool(options["trace"]),
    }
    if question is None:
        if sys.stdin.isatty():
            raise click.UsageError("give a QUESTION, or pipe questions in, one per line")
        failed = False
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                answer = assistant.ask(line, **kwargs)
            except StackGuideError as exc:
                failed = True
                _print_error(line.strip(), exc, as_json)
                continue
            _print_answer(answer, as_json)
            sys.stdout.flush()
        if failed:
            ctx.exit(EXIT_USAGE)
        return
    try:
        if as_json:
            _print_answer(assistant.ask(question, **kwargs), as_json=True)
        else:
            _stream_answer(assistant.events(question, **kwargs))
    except StackGuideError as exc:
        raise fail(exc) from exc


def _stream_answer(events):
    """Print the answer's text as it comes, then what the check made of it, then sources."""
    streamed: list[str] = []
    try:
        while True:
            kind, data = next(events)
            if kind == "delta":
                streamed.append(data)
                click.echo(data, nl=False)
                sys.stdout.flush()
    except StopIteration as done:
        answer = done.value
    except StackGuideError:
        if streamed:
            click.echo("")
        raise
    text = "".join(streamed)
    if text != answer.answer:
        if text:
            note = (
                f"[replaced: {answer.degraded_reason}]"
                if answer.degraded
                else f"[checked: unknown citations removed {answer.citations_removed}]"
            )
            click.echo("\n\n" + click.style(note, fg="yellow"))
        click.echo(answer.answer, nl=False)
    elif answer.degraded:
        click.echo("\n\n" + click.style(f"[degraded: {answer.degraded_reason}]", fg="yellow"))
    click.echo("")
    _print_uncovered(answer)
    _print_sources(answer)
    return answer


def _print_error(question: str, exc: StackGuideError, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False))
    else:
        click.echo(f"Error: {exc} (question: {question[:80]!r})", err=True)


def _print_answer(answer, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False))
        return
    click.echo(answer.answer)
    if answer.degraded:
        click.echo(click.style(f"[degraded: {answer.degraded_reason}]", fg="yellow"))
    _print_uncovered(answer)
    _print_sources(answer)


def _print_uncovered(answer) -> None:
    if answer.uncovered:
        names = ", ".join(answer.uncovered)
        click.echo(click.style(f"[not covered by the corpus: {names}]", fg="yellow"))


def _print_sources(answer) -> None:
    if answer.citations:
        click.echo("\n" + click.style("Sources", bold=True))
        for c in answer.citations:
            click.echo(f"[{c.n}] {c.label}  ({c.source})")
            click.echo(click.style(f"    {c.snippet}", dim=True))
    click.echo("")


@click.command()
@click.option("--backend", type=BACKEND_CHOICE, default=None, help="Answer backend (as for ask).")
@click.pass_context
def chat(ctx: click.Context, backend: str | None) -> None:
    """An interactive session that keeps context for follow-ups (/new resets, /quit ends)."""
    from assistant.models import Turn

    assistant = assistant_of(ctx, answers=True)
    history: list[Turn] = []
    click.echo("StackGuide chat. Ask about backend stacks; /new starts over, /quit ends.")
    while True:
        try:
            line = click.prompt(
                click.style("you", bold=True), prompt_suffix="> ", default="", show_default=False
            )
        except (EOFError, click.Abort):
            click.echo("")
            return
        line = line.strip()
        if line in {"/quit", "/exit"}:
            return
        if line == "/new":
            history.clear()
            click.echo("(new conversation)")
            continue
        if not line:
            continue
        try:
            answer = _stream_answer(assistant.events(line, history, backend=backend))
        except StackGuideError as exc:
            click.echo(f"Error: {exc}", err=True)
            continue
        asked = answer.standalone_question or line
        history += [Turn("user", asked), Turn("assistant", answer.answer)]
