"""Reward chunks that cover the question's rare terms."""

from __future__ import annotations

from assistant.index.lexical import LexicalIndex
from assistant.retrieval.rerankers.base import Candidates, Reranker

W_COVER = 1.5  # weight of term coverage against the fused score scaled to 0..1


class CoverageRerank(Reranker):
    """Among many documents, passages that share a couple of common words with the
    question crowd out the one that names what it asks about: coverage counts."""

    needs_records = False

    def __init__(self, lexical: LexicalIndex, weight: float = W_COVER) -> None:
        self.lexical = lexical
        self.weight = weight

    def rerank(self, candidates: Candidates) -> None:
        fused = candidates.fused
        if not fused:
            return
        top = max(fused.values())
        coverage = self.lexical.coverage(candidates.query, list(fused))
        turn = candidates.turn
        if turn and turn != candidates.query:
            # "And if we're all-in on Bun?" after an edge question: the passages that
            # cover the turn's own terms count as much as those covering the topic.
            own = self.lexical.coverage(turn, list(fused))
            coverage = {i: (c + own.get(i, 0.0)) / 2 for i, c in coverage.items()}
        candidates.fused = {
            i: s / top + self.weight * coverage.get(i, 0.0) for i, s in fused.items()
        }
