"""docs/configuration.md, written from the settings themselves: every variable, its default
and its description, so the reference cannot drift from the code.

    python -m assistant.settings_reference > docs/configuration.md
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices
from pydantic_core import PydanticUndefined

from assistant.settings import REPO_ROOT, Settings

HEADER = """# Configuration

Every setting is an environment variable (or a line in `.env`); `--data-dir` overrides the
first. Keys and tokens are never printed: a bad value stops startup naming the variable
and the reason only. Generated from `assistant/settings.py` by
`python -m assistant.settings_reference` (a test checks it is current).

| variable | default | meaning |
|---|---|---|
"""


def _names(name: str, field) -> str:
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return " or ".join(f"`{a}`" for a in alias.choices)
    return f"`STACKGUIDE_{name.upper()}`"


def _default(field) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "none" if value == [] else "(computed)"
    value = field.default
    if value is PydanticUndefined or value is None:
        return "unset"
    if isinstance(value, Path) and value.is_relative_to(REPO_ROOT):
        value = value.relative_to(REPO_ROOT)
    if isinstance(value, bool):
        value = str(value).lower()
    return f"`{value}`"


def reference() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        text = " ".join((field.description or "").split()).replace("|", "\\|")
        rows.append(f"| {_names(name, field)} | {_default(field)} | {text} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
