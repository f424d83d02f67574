"""`stackguide eval --calibrate`: fit the relevance judge on labelled cases.

Every case is asked as usual, with the judge wrapped so that what it was shown is
recorded: the raw scores (features or logits) of each leading passage. Cases the gate
decided before the judge (a request to write, subjects the corpus never mentions) are not
the judge's to learn from. Answerable cases are positives, refusals negatives; a case
that may go either way counts as a positive when it expects facts from the part the
corpus covers.

A question is answered when its best passage is, so the fit is multiple-instance: start
from the passage with the best evidence score, fit a logistic regression, take each
question's most probable passage under it, refit (a few rounds). The threshold refuses as
many refusals as it can while answering `ANSWER_RECALL` of the answerable cases fitted.
Precision and recall are reported on cross-validation folds the model and threshold were
not fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.evaluation.cases import Case
from assistant.grounding.judges.base import RelevanceJudge, Signals
from assistant.grounding.scoring import ScoredUnit
from assistant.query.intent import Query

ROUNDS = 4  # multiple-instance refits: the passage picked settles after two or three
FOLDS = 5
REGULARISATION = 1.0  # sklearn's C: the cases are few, the features correlated
MIN_SUPPORT = 5  # passage rows a signal must be on in before its weight is fitted
ANSWER_RECALL = 0.97  # the operating point: answerable cases the threshold must let through


class RecordingJudge(RelevanceJudge):
    """Passes every call to `inner` and keeps the raw scores of what it was shown."""

    def __init__(self, inner: RelevanceJudge) -> None:
        self.inner = inner
        self.name = inner.name
        self.threshold = inner.threshold
        self.last: list | None = None
        self.signals: Signals | None = None

    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        # Judged first: a judge that calls a model keeps its reply for `features`.
        probabilities = self.inner.judge(query, candidates, signals)
        self.last = self.inner.features(query, candidates, signals)
        self.signals = signals
        return probabilities


@dataclass
class Sample:
    case: str
    dataset: str
    label: int  # 1: the corpus answers it
    rows: list[list[float]]  # raw scores of each leading passage


@dataclass
class Fit:
    weights: list[float]
    bias: float
    threshold: float

    def probability(self, rows: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(rows @ np.asarray(self.weights) + self.bias)))

    def best(self, sample: Sample) -> float:
        return float(self.probability(np.asarray(sample.rows, dtype=float)).max())


@dataclass
class Report:
    samples: int
    positives: int
    folds: list[dict[str, float]] = field(default_factory=list)

    def mean(self, key: str) -> float:
        values = [f[key] for f in self.folds if not math.isnan(f[key])]
        return sum(values) / len(values) if values else float("nan")


def label(case: Case) -> int | None:
    if case.refuse is True:
        return 0
    if case.refuse is False or case.facts:
        return 1
    return None


def collect(ask, cases: list[Case], recorder: RecordingJudge, dataset: str) -> list[Sample]:
    """Ask every labelled case; keep those the judge was asked about."""
    out = []
    for case in cases:
        y = label(case)
        if y is None:
            continue
        recorder.last = None
        ask(case.question, case.history)
        if recorder.last:
            rows = [list(map(float, r if isinstance(r, list | tuple) else [r]))
                    for r in recorder.last]  # fmt: skip
            out.append(Sample(case.id, dataset, y, rows))
    return out


def fit(samples: list[Sample], start: int = 3, priors: dict[int, float] | None = None) -> Fit:
    """Multiple-instance logistic regression; `start` is the column first picked by.

    A column on in fewer than `MIN_SUPPORT` passage rows (a question met only in passing,
    a patchwork of documents) cannot be fitted: it keeps its weight in `priors`
    (the strength the rule it was had), and the rest is fitted around it.
    """
    from sklearn.linear_model import LogisticRegression

    y = np.array([s.label for s in samples])
    width = len(samples[0].rows[0])
    every = np.array([r for s in samples for r in s.rows])
    fixed = {
        c: w
        for c, w in (priors or {}).items()
        if c < width and int(np.sum(every[:, c] >= 0.5)) < MIN_SUPPORT
    }
    free = [c for c in range(width) if c not in fixed]
    fixed_w = np.zeros(width)
    for c, w in fixed.items():
        fixed_w[c] = w

    def logits(model, rows: np.ndarray) -> np.ndarray:
        return model.decision_function(rows[:, free]) + rows @ fixed_w

    picks = [int(np.argmax([r[min(start, len(r) - 1)] for r in s.rows])) for s in samples]
    model = None
    for _ in range(ROUNDS):
        x = np.array([s.rows[i] for s, i in zip(samples, picks, strict=True)])
        model = LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=2000)
        # The fixed columns' part is an offset: fitted on cases where they are all 0.
        model.fit(x[:, free], y)
        new = [int(np.argmax(logits(model, np.asarray(s.rows)))) for s in samples]
        if new == picks:
            break
        picks = new
    assert model is not None
    weights = fixed_w.copy()
    weights[free] = model.coef_[0]
    result = Fit(weights.tolist(), float(model.intercept_[0]), 0.5)
    result.threshold = _separating_threshold([result.best(s) for s in samples], y)
    return result


def _separating_threshold(probabilities: list[float], y: np.ndarray) -> float:
    """Among the cuts that answer at least `ANSWER_RECALL` of the answerable cases, the
    one that refuses the most refusals, and of those the one answering the most: as many
    refusals as the cases allow while wrong refusals stay rare (a refusal can be asked again
    in other words; a confident wrong answer misleads). Halfway between neighbouring
    probabilities, so it does not sit on a case."""
    p = np.asarray(probabilities)
    cuts = np.unique(p)
    candidates = np.concatenate([[cuts[0] / 2], (cuts[:-1] + cuts[1:]) / 2])
    best, best_key = float(candidates[0]), (-1.0, -1.0)
    for t in candidates:
        tpr = float(np.mean(p[y == 1] >= t)) if (y == 1).any() else 1.0
        tnr = float(np.mean(p[y == 0] < t)) if (y == 0).any() else 0.0
        if tpr >= ANSWER_RECALL and (tnr, tpr) > best_key:
            best, best_key = float(t), (tnr, tpr)
    return best


def cross_validate(
    samples: list[Sample], start: int = 3, priors: dict[int, float] | None = None
) -> Report:
    """Precision and recall of answering and refusing, on folds not fitted on."""
    from sklearn.model_selection import StratifiedKFold

    y = np.array([s.label for s in samples])
    report = Report(len(samples), int(y.sum()))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    for train, test in folds.split(np.zeros(len(y)), y):
        model = fit([samples[i] for i in train], start, priors)
        answered = np.array([model.best(samples[i]) >= model.threshold for i in test])
        truth = y[test] == 1
        report.folds.append({
            "answer_precision": _ratio(np.sum(answered & truth), np.sum(answered)),
            "answer_recall": _ratio(np.sum(answered & truth), np.sum(truth)),
            "refusal_precision": _ratio(np.sum(~answered & ~truth), np.sum(~answered)),
            "refusal_recall": _ratio(np.sum(~answered & ~truth), np.sum(~truth)),
        })  # fmt: skip
    return report


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else float("nan")
