"""Answer generators, picked by name: `extractive` (offline) and `openai` (any
OpenAI-compatible endpoint); `auto` is `openai` when an LLM is configured."""

from __future__ import annotations

from assistant.errors import ConfigError
from assistant.generators.base import Draft, Evidence, Generator
from assistant.prompts import Prompts
from assistant.settings import BACKENDS, Settings

__all__ = ["BACKENDS", "Draft", "Evidence", "Generator", "get_generator", "resolve_backend"]


def resolve_backend(name: str, settings: Settings) -> str:
    if name not in BACKENDS:
        raise ConfigError(f"unknown answer backend {name!r} (available: {', '.join(BACKENDS)})")
    if name == "auto":
        return "openai" if settings.llm_configured() else "extractive"
    return name


def get_generator(name: str, settings: Settings, prompts: Prompts) -> Generator:
    from assistant.generators.extractive import ExtractiveGenerator

    extractive = ExtractiveGenerator(prompts, settings.max_answer_sentences)
    if resolve_backend(name, settings) == "extractive":
        return extractive
    from assistant.generators.openai import OpenAIGenerator  # imports langchain-openai

    return OpenAIGenerator(settings, prompts, fallback=extractive)
