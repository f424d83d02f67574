"""The answer generator seam: extractive now, an LLM later, same inputs and outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from assistant.evidence import Query, ScoredUnit
from assistant.lexical import LexicalIndex
from assistant.models import Citation, Hit


@dataclass
class Evidence:
    query: Query
    hits: list[Hit]
    units: list[ScoredUnit]  # scored, best first
    lexical: LexicalIndex


@dataclass
class Draft:
    text: str
    citations: list[Citation] = field(default_factory=list)


class Generator(ABC):
    name: str = "generator"

    @abstractmethod
    def generate(self, evidence: Evidence) -> Draft:
        """Write an answer whose every `[n]` is one of the returned citations."""
