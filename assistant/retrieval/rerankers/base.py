"""One reranking step: reads the candidates so far and rewrites their order or scores."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from assistant.models import ChunkRecord


@dataclass
class Candidates:
    """Fused retrieval results on their way to the top k."""

    query: str  # what was searched (a follow-up's standalone question)
    vector: np.ndarray
    k: int
    fused: dict[str, float]  # chunk id → fused score
    order: list[str] = field(default_factory=list)  # best first
    records: dict[str, ChunkRecord] = field(default_factory=dict)  # fetched so far
    turn: str | None = None  # a follow-up's own words
    caution: bool = False  # the question asks about risks
    fetch: Callable[[list[str]], dict[str, ChunkRecord]] | None = None

    def fetched(self, ids: list[str]) -> dict[str, ChunkRecord]:
        """Records for these ids, fetched once and kept."""
        missing = [i for i in ids if i not in self.records]
        if missing and self.fetch is not None:
            self.records.update(self.fetch(missing))
        return {i: self.records[i] for i in ids if i in self.records}


class Reranker(ABC):
    """A step of the chain. Steps before the records are fetched change `fused`; steps
    after change `order`."""

    needs_records = True

    @abstractmethod
    def rerank(self, candidates: Candidates) -> None: ...


class TopK(Reranker):
    """Keep the k best: the steps after it only trade places within them."""

    def rerank(self, candidates: Candidates) -> None:
        candidates.order = candidates.order[: candidates.k]
