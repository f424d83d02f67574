"""`stackguide`: every command, registered in one place. The CLI only translates; the
service does the work. `python -m assistant.cli` and the console script are the same."""

from __future__ import annotations

from assistant.cli.answers import ask, chat
from assistant.cli.documents import remove, sources
from assistant.cli.group import cli
from assistant.cli.ingest import ingest
from assistant.cli.serve import serve
from assistant.evaluation.command import eval_command
from assistant.slack.commands import feedback_group, slack_command

COMMANDS = (ingest, sources, remove, ask, chat, serve, eval_command, slack_command, feedback_group)
for command in COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli(prog_name="stackguide")


__all__ = ["cli", "main"]
