"""`stackguide slack` (the bot over Socket Mode) and `stackguide feedback export`.

Slack's libraries are imported inside the commands: the other commands start no slower.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("slack")
@click.pass_context
def slack_command(ctx: click.Context) -> None:
    """Run the Slack bot over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN).

    For installs without a public URL. With one, `stackguide serve` can take Slack's
    requests at /slack/* instead (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)."""
    from assistant.cli.context import assistant_of, fail, settings_of
    from assistant.errors import StackGuideError

    settings = settings_of(ctx)
    needed = {
        "SLACK_BOT_TOKEN": (settings.slack_bot_token, "the bot token, xoxb-…"),
        "SLACK_APP_TOKEN": (settings.slack_app_token, "an app-level token, xapp-…"),
    }
    missing = [f"{name} ({what})" for name, (value, what) in needed.items() if not value]
    if missing:
        raise click.UsageError(
            f"Socket Mode needs {' and '.join(missing)}; each is also read as "
            "STACKGUIDE_SLACK_…. See the README's Slack section."
        )
    assistant = assistant_of(ctx)
    try:
        assistant.ready()  # ingest (if needed) before the first question arrives
        from assistant.slack.app import socket_mode_handler

        handler = socket_mode_handler(settings, assistant)
    except StackGuideError as exc:
        raise fail(exc) from exc
    click.echo("StackGuide is answering on Slack (Socket Mode); Ctrl+C stops it.", err=True)
    try:
        handler.start()  # blocks until the process is stopped
    finally:
        handler.close()


@click.group("feedback")
def feedback_group() -> None:
    """Votes given on answers (the 👍 / 👎 buttons in Slack)."""


@feedback_group.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path, allow_dash=True),
    default="-",
    show_default=True,
    help="YAML file to write (- for stdout).",
)
@click.option(
    "--vote",
    type=click.Choice(["down", "up", "all"]),
    default="all",
    show_default=True,
    help="Which votes to export.",
)
@click.option(
    "--category",
    default="factual",
    show_default=True,
    help="The file's eval category (a case file has one); reviewers move cases on.",
)
@click.pass_context
def export_command(ctx: click.Context, out: Path, vote: str, category: str) -> None:
    """Write feedback as eval cases in the evals/cases format, for review."""
    from assistant.cli.context import assistant_of, fail
    from assistant.errors import StackGuideError
    from assistant.evaluation.cases import CATEGORIES
    from assistant.slack.feedback import export_cases

    if category not in CATEGORIES:
        raise click.BadParameter(f"one of {', '.join(CATEGORIES)}", param_hint="--category")
    assistant = assistant_of(ctx)
    try:
        text = export_cases(assistant.feedback, assistant.conversations, vote, category)
    except StackGuideError as exc:
        raise fail(exc) from exc
    if str(out) == "-":
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"wrote {text.count(chr(10) + '  - id: ')} case(s) to {out}", err=True)
