"""The answer generator seam: extractive or an LLM, same inputs and outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Generator as Stream
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.grounding.scoring import ScoredUnit
from assistant.index.lexical import LexicalIndex
from assistant.models import Citation, Hit, Turn
from assistant.query.intent import Query

if TYPE_CHECKING:
    from assistant.agent.corpus import Corpus


@dataclass
class Evidence:
    query: Query
    hits: list[Hit]
    units: list[ScoredUnit]  # scored, best first
    lexical: LexicalIndex
    corpus: Corpus | None = None  # what an agent's tools may read beyond the hits


@dataclass
class Draft:
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False  # the generator found the evidence does not answer the question
    backend: str | None = None  # who wrote it, when not the generator asked (a fallback)
    degraded_reason: str | None = None  # why the asked-for generator's answer was replaced
    citations_removed: list[int] = field(default_factory=list)
    trace: dict[str, Any] | None = None  # agent steps, passages shown, the citation check


class Generator(ABC):
    name: str = "generator"
    streams: bool = False  # writes as it goes (tokens), or the whole answer at once

    def candidates(self, evidence: Evidence) -> list[Citation]:
        """What a streaming generator may cite, numbered as its `[n]` will be."""
        return []

    @abstractmethod
    def generate(self, evidence: Evidence) -> Draft:
        """Write an answer whose every `[n]` is one of the returned citations."""

    def stream(self, evidence: Evidence) -> Stream[str, None, Draft]:
        """Yield the text as it is written, return the checked draft. The default writes
        the whole answer at once and streams nothing; the final draft may differ from the
        streamed text (an LLM answer that failed its check is replaced)."""
        yield from ()
        return self.generate(evidence)

    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        """A follow-up as a standalone question, or None to keep the rule-based rewrite."""
        return None
