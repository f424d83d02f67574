"""Answer generators, picked by name. Only the offline `extractive` one exists so far."""

from __future__ import annotations

from assistant.errors import ConfigError
from assistant.generators.base import Draft, Evidence, Generator
from assistant.prompts import Prompts
from assistant.settings import Settings

__all__ = ["Draft", "Evidence", "Generator", "get_generator"]


def get_generator(name: str, settings: Settings, prompts: Prompts) -> Generator:
    if name in ("auto", "extractive"):  # `auto` has no LLM to pick until one is configured
        from assistant.generators.extractive import ExtractiveGenerator

        return ExtractiveGenerator(prompts, settings.max_answer_sentences)
    raise ConfigError(f"unknown answer backend {name!r} (available: auto, extractive)")
