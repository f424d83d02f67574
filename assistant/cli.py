"""`stackguide`: ingest, ask, chat. The CLI only translates; the service does the work."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from assistant.errors import BackendNotConfigured, InvalidQuestion, StackGuideError

EXIT_FAILED = 1
EXIT_USAGE = 2


def _settings(ctx: click.Context):
    from assistant.settings import load_settings

    params = ctx.find_root().params
    overrides = {k: v for k, v in params.items() if v is not None and k != "verbose"}
    try:
        return load_settings(**overrides)
    except StackGuideError as exc:  # names the field and the reason, never the value
        raise _fail(exc) from None


def _assistant(ctx: click.Context):
    from assistant.service import Assistant

    obj = ctx.find_root().ensure_object(dict)
    if "assistant" not in obj:
        obj["assistant"] = Assistant(_settings(ctx))
    return obj["assistant"]


def _fail(exc: StackGuideError) -> click.ClickException:
    err = click.ClickException(str(exc))
    usage = isinstance(exc, InvalidQuestion | BackendNotConfigured)
    err.exit_code = EXIT_USAGE if usage else EXIT_FAILED
    return err


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


@cli.command()
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
    assistant = _assistant(ctx)
    if rebuild:
        assistant.reset_index()
    try:
        with _progress() as progress:
            report = assistant.ingest(
                list(paths) or None, progress=progress, follow_symlinks=follow_symlinks
            )
    except StackGuideError as exc:
        raise _fail(exc) from exc
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

        self.bar = Progress(transient=True, console=_stderr_console())
        self.bar.start()
        self.task = self.bar.add_task("embedding chunks", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)

    def __exit__(self, *exc: object) -> None:
        if self.bar:
            self.bar.stop()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


BACKENDS = click.Choice(["auto", "extractive", "openai"])


@cli.command()
@click.argument("question", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@click.option(
    "--backend",
    type=BACKENDS,
    default=None,
    help="Answer backend: openai (an OpenAI-compatible LLM), extractive (offline), or auto "
    "(openai when STACKGUIDE_LLM_MODEL is configured) [env STACKGUIDE_BACKEND].",
)
@click.option("--retriever", type=click.Choice(["hybrid", "dense", "bm25"]), default=None)
@click.option("-k", "--top-k", type=int, default=None, help="Chunks the answer may draw on.")
@click.option("--trace", is_flag=True, help="With --json: add retrieval, gate and agent steps.")
@click.pass_context
def ask(ctx: click.Context, question: str | None, as_json: bool, **options: object) -> None:
    """Answer QUESTION; with no QUESTION and piped input, answer one question per line.

    An LLM answer is printed as it is written, then checked: if the check changes it,
    the checked answer follows."""
    assistant = _assistant(ctx)
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
        raise _fail(exc) from exc


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


@cli.command()
@click.option("--backend", type=BACKENDS, default=None, help="Answer backend (as for ask).")
@click.pass_context
def chat(ctx: click.Context, backend: str | None) -> None:
    """An interactive session that keeps context for follow-ups (/new resets, /quit ends)."""
    from assistant.models import Turn

    assistant = _assistant(ctx)
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


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option(
    "--workers",
    default=1,
    type=int,
    show_default=True,
    help="Worker processes; they share the index read-only (ingest beforehand, "
    "or use STACKGUIDE_CHROMA_URL to ingest while serving).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API, the OpenAI-compatible surface and the web chat page."""
    import os

    import uvicorn

    from assistant.server.logging import configure_json_logging

    assistant = _assistant(ctx)
    try:
        assistant.ready()  # ingest (if needed) once, before any worker starts
    except StackGuideError as exc:
        raise _fail(exc) from exc
    configure_json_logging()
    settings = assistant.settings
    server = {
        "host": host,
        "port": port,
        "log_config": None,
        "http": "assistant.server.protocol:GuardedHttpToolsProtocol",
        # X-Forwarded-* is believed only from the proxies named: uvicorn's own default
        # trusts 127.0.0.1, which lets any local client pick its address (and rate bucket).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
    }
    if workers == 1:
        from assistant.server.app import create_app
        from assistant.server.protocol import GuardedHttpToolsProtocol as Protocol

        Protocol.read_timeout_s = settings.http_read_timeout_s
        Protocol.max_header_bytes = settings.max_header_bytes
        uvicorn.run(create_app(assistant=assistant), **server)
        return
    # Workers build their own app from the environment: pass --data-dir on through it.
    os.environ["STACKGUIDE_DATA_DIR"] = str(settings.data_dir.absolute())
    uvicorn.run("assistant.server.app:app_from_env", factory=True, workers=workers, **server)


def main() -> None:
    cli(prog_name="stackguide")


if __name__ == "__main__":
    main()


def _register() -> None:
    from assistant.evaluation.command import eval_command
    from assistant.slack.commands import feedback_group, slack_command

    cli.add_command(eval_command)
    cli.add_command(slack_command)
    cli.add_command(feedback_group)


_register()
