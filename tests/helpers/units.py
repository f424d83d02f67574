"""Scored answer units made by hand, for rules tested without an index in the way."""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.grounding.scoring import ScoredUnit
from assistant.models import Hit


def scored(hit: Hit, text: str = "t", score: float = 0.5, **fields: Any) -> ScoredUnit:
    """A unit of `hit`'s chunk scoring `score` (its meaning too, unless given), with no
    terms, subject or vector of its own unless `fields` give them."""
    values: dict[str, Any] = {
        "index": 0, "raw": text, "vec": np.zeros(3), "terms": set(), "subject": set(),
        "heading": set(), "meaning": score, "term_share": 0.0, "turn_share": 0.0,
    }  # fmt: skip
    return ScoredUnit(hit=hit, text=text, score=score, **(values | fields))
