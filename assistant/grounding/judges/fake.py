"""Deterministic judges for tests: a fixed probability, or one computed by a function."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from assistant.grounding.judges.base import RelevanceJudge, Signals
from assistant.grounding.scoring import ScoredUnit
from assistant.query.intent import Query


class FunctionJudge(RelevanceJudge):
    """`fn(question, passage text) → probability`, for tests about the gate's logic."""

    name = "function"

    def __init__(self, fn: Callable[[str, str], float], threshold: float = 0.5) -> None:
        self.fn = fn
        self.threshold = threshold
        self.calls: list[tuple[str, list[str]]] = []

    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        texts = [c.text for c in candidates]
        self.calls.append((query.standalone, texts))
        return [float(self.fn(query.standalone, t)) for t in texts]


class FixedJudge(FunctionJudge):
    """Every passage gets the same probability."""

    name = "fixed"

    def __init__(self, probability: float, threshold: float = 0.5) -> None:
        super().__init__(lambda _q, _t: probability, threshold)
