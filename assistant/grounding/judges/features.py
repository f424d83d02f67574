"""The offline judge: a logistic model over the signals the gate gathers for a passage.

Per passage: its meaning (cosine to the question), the share of the question's rare terms
it holds (whole conversation, and the turn just asked), their mix as the evidence score.
Per question: the share of its names the corpus never mentions, whether its names are met
only in passing, whether no passage holds two of its words, how many documents the
near-best passages scatter over, the share of its subjects the leading evidence
mentions, whether the passage is the warning nearest a question about risks, whether the
question is a follow-up (read with the conversation before it), and how much of what it
asks beyond its subjects the passage and its chunk hold, the meaning of its whole chunk,
and its chunk's place in the retrieval ranking. The weights and the threshold
are fitted on labelled cases (`stackguide eval --calibrate`); the defaults below only
stand in until a calibration file exists.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.grounding.judges.base import RelevanceJudge, Signals, sigmoid
from assistant.grounding.scoring import ScoredUnit
from assistant.query.intent import Query

FEATURES = (
    "meaning", "rare_terms", "turn_terms", "evidence", "names_unknown", "passing",
    "one_word", "scattered", "subjects_supported", "answers_risk_question", "follow_up",
    "asked_in_passage", "asked_in_chunk", "chunk_meaning", "retrieval_rank",
)  # fmt: skip
SCATTERED = 3  # near-best passages from this many documents, none holding half of it
# Stand-ins until fitted: the evidence score around 0.3 decides, the other signals push.
DEFAULT_WEIGHTS = {
    "evidence": 12.0, "names_unknown": -3.0, "passing": -4.0, "one_word": -4.0,
    "scattered": -3.0, "subjects_supported": 2.0,
}  # fmt: skip
DEFAULT_BIAS = -5.6


def feature_vector(unit: ScoredUnit, signals: Signals, rest: tuple[float, float]) -> list[float]:
    return [
        unit.meaning,
        unit.term_share,
        unit.turn_share,
        unit.evidence_score,
        signals.names_unknown,
        float(signals.passing),
        float(signals.one_word),
        float(signals.spread >= SCATTERED),
        signals.subjects_supported,
        float(unit.warning),
        float(signals.follow_up),
        *rest,
        unit.hit.dense or 0.0,
        1 / (1 + unit.hit.rank),
    ]


class FeatureJudge(RelevanceJudge):
    name = "features"

    def __init__(self, calibration: dict | None = None, threshold: float | None = None) -> None:
        calibration = calibration or {}
        weights = calibration.get("weights") or DEFAULT_WEIGHTS
        self.weights = [float(weights.get(f, 0.0)) for f in FEATURES]
        self.bias = float(calibration.get("bias", DEFAULT_BIAS))
        fitted = calibration.get("threshold", 0.5)
        self.threshold = float(fitted if threshold is None else threshold)

    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        return [
            sigmoid(self.bias + sum(w * x for w, x in zip(self.weights, row, strict=True)))
            for row in self.features(query, candidates, signals)
        ]

    def features(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[list[float]]:
        rest = signals.rest or [(1.0, 1.0)] * len(candidates)
        return [feature_vector(u, signals, r) for u, r in zip(candidates, rest, strict=False)]
