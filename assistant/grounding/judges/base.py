"""The relevance seam: one base, a calibration file the judges read their fitted numbers
from, and the question-level signals the gate gathers once for every judge."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from assistant.grounding.scoring import ScoredUnit
from assistant.query.intent import Query


@dataclass
class Signals:
    """What the gate knows about the question and its evidence as a whole; judges that
    read only text ignore it."""

    names_unknown: float = 0.0  # share of the question's names the corpus never mentions
    passing: bool = False  # its names are met only in passing, the rest elsewhere
    one_word: bool = False  # no passage holds two of its words, the lead is far in meaning
    spread: int = 0  # documents the near-best passages come from, none holding half of it
    subjects_supported: float = 1.0  # share of its subjects the leading evidence mentions
    follow_up: bool = False  # read with the conversation before it
    # Per judged passage: the share of what the question asks beyond its subjects that
    # the passage holds, and that its chunk holds (idf-weighted).
    rest: list[tuple[float, float]] = field(default_factory=list)


class RelevanceJudge(ABC):
    """Scores candidate passages for a question: the probability each answers it."""

    name: str = "judge"
    threshold: float = 0.5  # the probability from which a passage counts as an answer

    @abstractmethod
    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        """One probability in 0..1 per candidate, in order."""

    def features(self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals):
        """Raw scores to fit a calibration on (`stackguide eval --calibrate`): a list of
        feature vectors or logits, one per candidate. None: this judge is not fitted."""
        return None


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


@dataclass
class Calibration:
    """Fitted weights and thresholds per judge, as `eval --calibrate` writes them."""

    judges: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def load(cls, path: Path | None) -> Calibration:
        if path is None or not path.exists():
            return cls({}, path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"the calibration file {path} cannot be read: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("judges", {}), dict):
            raise ConfigError(f"the calibration file {path} has no `judges` mapping")
        return cls(data.get("judges", {}), path)

    def section(self, judge: str) -> dict[str, Any]:
        return dict(self.judges.get(judge) or {})

    def save(self, path: Path, judge: str, fitted: dict[str, Any]) -> None:
        """Replace one judge's entry, keeping the others this calibration holds."""
        self.judges[judge] = fitted
        path.write_text(json.dumps({"judges": self.judges}, indent=2, sort_keys=True) + "\n")
