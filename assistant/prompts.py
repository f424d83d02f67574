"""Prompt and answer-framing templates, read from files in `prompts/`."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from assistant.errors import ConfigError

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@cache
def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"prompt template missing: {path}") from exc


class Prompts:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def text(self, name: str) -> str:
        return _read(self.folder / name)

    def render(self, name: str, **values: str) -> str:
        """Fill `{name}` placeholders; other braces (JSON examples) stay as written."""
        missing = [k for k in _PLACEHOLDER.findall(self.text(name)) if k not in values]
        if missing:
            raise ConfigError(f"prompt {name} needs values for {sorted(set(missing))}")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text(name))
