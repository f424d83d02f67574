"""Run eval cases through the assistant (or a baseline) and check them against thresholds."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import StackGuideError
from assistant.evaluation.cases import Case
from assistant.evaluation.judge import Judge
from assistant.evaluation.metrics import CaseResult, aggregate, score_case


@dataclass
class RunResult:
    name: str
    results: list[CaseResult]
    k: int

    @property
    def overall(self) -> dict[str, float | None]:
        return aggregate(self.results, self.k)

    def by_category(self) -> dict[str, dict[str, float | None]]:
        cats = sorted({r.case.category for r in self.results})
        return {
            c: aggregate([r for r in self.results if r.case.category == c], self.k) for c in cats
        }


def run_cases(
    ask: Callable,
    cases: list[Case],
    *,
    name: str,
    k: int,
    judge: Judge | None = None,
    **options: object,
) -> RunResult:
    results = []
    for case in cases:
        try:
            answer = ask(case.question, case.history, trace=True, **options)
        except StackGuideError as exc:
            results.append(CaseResult(case=case, answer=None, error=str(exc)))
            continue
        result = score_case(case, answer)
        if judge is not None:
            try:
                scores = judge.score(answer)
                result.faithfulness, result.answer_relevancy = (
                    scores.faithfulness, scores.answer_relevancy,
                )  # fmt: skip
            except (StackGuideError, ValueError) as exc:  # a judge failure is not a case failure
                result.judge_error = str(exc)
        results.append(result)
    return RunResult(name, results, k)


def load_thresholds(path: Path) -> dict[str, float]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {str(k): float(v) for k, v in data.get("thresholds", {}).items()}


def below_thresholds(metrics: dict[str, float | None], thresholds: dict[str, float]) -> list[str]:
    """Names of the metrics that miss their threshold (`max_` prefixed ones are ceilings)."""
    misses = []
    for name, bound in thresholds.items():
        ceiling = name.startswith("max_")
        value = metrics.get(name.removeprefix("max_"))
        if value is None:
            continue
        if (value > bound) if ceiling else (value < bound):
            misses.append(
                f"{name.removeprefix('max_')} = {value:.3f} ({'>' if ceiling else '<'} {bound})"
            )
    return misses
