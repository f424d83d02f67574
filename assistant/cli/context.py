"""What every command shares: settings from the root options, one Assistant per run, and
the service's errors translated to click's (exit 2 for bad usage, 1 for failures)."""

from __future__ import annotations

import click

from assistant.errors import BackendNotConfigured, InvalidQuestion, StackGuideError

EXIT_FAILED = 1
EXIT_USAGE = 2


def settings_of(ctx: click.Context):
    """Settings from the environment, with the root options (--data-dir) over them."""
    from assistant.settings import load_settings

    params = ctx.find_root().params
    overrides = {k: v for k, v in params.items() if v is not None and k != "verbose"}
    try:
        return load_settings(**overrides)
    except StackGuideError as exc:  # names the field and the reason, never the value
        raise fail(exc) from None


def assistant_of(ctx: click.Context, answers: bool = False):
    """The run's one Assistant, made on first use. For a command that `answers`, the
    embedding model starts opening first, while the rest of the service loads."""
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "assistant" not in obj:
        settings = settings_of(ctx)
        embedder = None
        if answers:
            from assistant.embeddings import get_embedder

            embedder = get_embedder(settings)
            embedder.prepare()
        from assistant.service import Assistant

        obj["assistant"] = Assistant(settings, embedder=embedder)
        root.call_on_close(obj["assistant"].close)
    return obj["assistant"]


def fail(exc: StackGuideError) -> click.ClickException:
    err = click.ClickException(str(exc))
    usage = isinstance(exc, InvalidQuestion | BackendNotConfigured)
    err.exit_code = EXIT_USAGE if usage else EXIT_FAILED
    return err


def stderr_console():
    """Rich output (progress, tables) for stderr: stdout stays the answer's."""
    from rich.console import Console

    return Console(stderr=True)
