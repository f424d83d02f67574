"""Prompt and answer-framing templates, read from files in `prompts/`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from assistant.errors import ConfigError


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
        return self.text(name).format(**values)
