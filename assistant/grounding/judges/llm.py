"""The `llm` judge: the configured OpenAI-compatible endpoint rates the leading passages.

One chat call per question, not per passage: the top `max_passages` candidates go in one
quoted `<passages>` block (framed and defused as the answering prompt frames them: data,
never instructions), and the model replies one line per passage, `1: 0.9`. Replies are
parsed leniently (0–1, 0–10, percentages, "Passage 2 - 7/10"); a passage without a usable
line gets 0.0. The call is bounded and its failures are reported as `ModelStep` reports
them (an `LLMError` with a fixed reason, never the endpoint's body): the gate decides.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from assistant.agent.passages import CLOSE, OPEN, defuse
from assistant.agent.step import Budget, ModelStep
from assistant.errors import ConfigError
from assistant.grounding.judges.base import RelevanceJudge, Signals, sigmoid
from assistant.grounding.scoring import ScoredUnit
from assistant.prompts import Prompts
from assistant.query.intent import Query
from assistant.settings import LLM_NEEDS, Settings
from assistant.streams import drain
from assistant.text import shorten, strip_markers

TEMPLATE = "llm/judge_relevance.md"
MAX_PASSAGES = 5
PASSAGE_CHARS = 1200  # one unit is a sentence or a bullet; this only stops a runaway one
EPS = 1e-4  # keeps logit() finite for the 0s and 1s models like to reply with

# "1: 0.9", "- [2] 0.4", "Passage 3 - 7/10", "**4.** 85%", "5 = .3": a passage number at
# the start of a line, then the first number after it, with an optional explicit scale.
_LINE = re.compile(
    r"^[\s*#>\-•\[(]*(?:passage|p)?\s*#?\s*(\d{1,3})(?:\s*[\])*.:=\-–—|>]+\s*|\s+)"
    r"(?:(?:score|relevance|probability|rating)\b\s*[:=]?\s*)?"
    r"(\d+(?:\.\d+)?|\.\d+)\s*(%|/\s*100\b|/\s*10\b|out of 10\b)?",
    re.I,
)
_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)  # reasoning models' notes


class LLMJudge(RelevanceJudge):
    name = "llm"

    def __init__(
        self,
        settings: Settings,
        prompts: Prompts,
        calibration: dict[str, Any],
        max_passages: int = MAX_PASSAGES,
    ) -> None:
        if not settings.llm_configured():
            raise ConfigError(f"relevance_judge=llm needs {LLM_NEEDS}")
        from assistant.generators.openai import chat_model  # its import pulls in the agent

        self.settings = settings
        self.prompts = prompts
        self.max_passages = max_passages
        self.llm = chat_model(settings)
        # Platt scaling only once fitted: an unfitted model's own numbers are the best guess.
        a, b = _number(calibration, "a"), _number(calibration, "b")
        self.platt: tuple[float, float] | None = None
        if a is not None or b is not None:
            self.platt = (1.0 if a is None else a, b or 0.0)
        fitted = _number(calibration, "threshold")
        self.threshold = next(
            t for t in (settings.relevance_threshold, fitted, 0.5) if t is not None
        )
        # The last question's ratings: `features` after `judge` (calibrating) costs no call.
        self._last: tuple[tuple[str, tuple[str, ...]], list[float | None]] | None = None

    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        rated = self._rate(query, candidates)
        if self.platt is None:
            return [p or 0.0 for p in rated]
        a, b = self.platt
        # An unrated passage stays at 0: there is nothing to calibrate.
        return [0.0 if p is None else sigmoid(a * _logit(p) + b) for p in rated]

    def features(self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals):
        """The logits of the model's own probabilities: what a Platt fit maps."""
        return [_logit(p or 0.0) for p in self._rate(query, candidates)]

    def _rate(self, query: Query, candidates: Sequence[ScoredUnit]) -> list[float | None]:
        """The model's probability for each candidate; None where it gave none (not sent,
        or no usable line for it)."""
        shown = list(candidates[: self.max_passages])
        if not shown:
            return [None] * len(candidates)
        key = (query.standalone, tuple(c.text for c in shown))
        last = self._last
        if last is not None and last[0] == key:
            ratings = last[1]
        else:
            rated = parse_ratings(self._ask(query.standalone, shown), len(shown))
            ratings = [rated.get(n) for n in range(1, len(shown) + 1)]
            self._last = (key, ratings)  # one assignment: safe enough across threads
        return ratings + [None] * (len(candidates) - len(shown))

    def _ask(self, question: str, shown: list[ScoredUnit]) -> str:
        from langchain_core.messages import HumanMessage

        prompt = self.prompts.render(
            TEMPLATE,
            question=defuse(" ".join(question.split())),
            passages=render_passages(shown),
            count=str(len(shown)),
        )
        s = self.settings
        # One budget for the call and its retries: the judge sits in front of every answer.
        step = ModelStep(
            self.llm,
            timeout_s=s.llm_timeout_s,
            max_retries=s.llm_max_retries,
            retry_after_max_s=s.llm_retry_after_max_s,
            budget=Budget(s.llm_timeout_s),
        )
        return str(drain(step([HumanMessage(prompt)])).text)


def render_passages(units: Sequence[ScoredUnit]) -> str:
    """The candidates as one block of quoted passages, numbered from 1, each with its
    section; a document's own `<passages>` tags are defused so it cannot close the block."""
    parts = []
    for n, u in enumerate(units, 1):
        chunk = u.hit.chunk
        head = defuse(f"[{n}] {chunk.section or chunk.title} ({chunk.source})")
        body = defuse(shorten(strip_markers(u.text), PASSAGE_CHARS))
        parts.append(f'<passage n="{n}">\n{head}\n{body}\n</passage>')
    return "\n".join([OPEN, "\n\n".join(parts), CLOSE])


def parse_ratings(reply: str, count: int) -> dict[int, float]:
    """Passage number → probability, from whatever the model wrote. A line per passage
    is asked for; a JSON object is accepted too. Numbers without an explicit scale are
    read as 0–1, or as 0–10 (0–100) when any of them exceeds 1 (10): a model that rates
    out of ten does so for every line. The first line for a passage wins; out-of-range
    passage numbers and values are dropped."""
    text = _THINKING.sub("", reply)
    found: list[tuple[int, float, str]] = []  # (passage, value, explicit scale)
    try:
        data = json.loads(text.strip().strip("`").removeprefix("json"))
        if isinstance(data, dict):
            found = [(int(k), float(v), "") for k, v in data.items()]
    except (ValueError, TypeError):
        pass
    if not found:
        for line in text.splitlines():
            m = _LINE.match(line)
            if m:
                found.append((int(m[1]), float(m[2]), (m[3] or "").replace(" ", "")))
    found = [f for f in found if 1 <= f[0] <= count]
    plain = [v for _, v, scale in found if not scale]
    top = max(plain, default=0.0)
    implied = 1.0 if top <= 1 else 10.0 if top <= 10 else 100.0
    rated: dict[int, float] = {}
    for n, value, scale in found:
        per = {"%": 100.0, "/100": 100.0, "/10": 10.0, "outof10": 10.0}.get(scale, implied)
        p = value / per
        if n not in rated and 0.0 <= p <= 1.0:
            rated[n] = p
    return rated


def _logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def _number(section: dict[str, Any], key: str) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"calibration of the llm judge: `{key}` is not a number") from None
