"""Follow-ups ("and for Bun?") rewritten into standalone questions, without an LLM.

A turn that leans on the previous one (starts with a follow-up cue, or refers back with a
pronoun and names nothing itself) is appended to the previous standalone question. The
turn's own terms stay the focus of the answer (see `evidence.W_FOCUS`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.models import Turn
from assistant.text import content_terms

_CUE = re.compile(
    r"^\s*(and|or|but|also|what\s+about|how\s+about|what\s+if|same\s+(for|with)|"
    r"then|in\s+that\s+case|for|with|instead|ok(ay)?|and\s+if|why|why\s+not)\b",
    re.I,
)
_BACK_REFERENCE = re.compile(
    r"\b(it|its|that|those|them|this|these|they|which\s+one|the\s+(first|second|former|"
    r"latter|other)|one|ones)\b",
    re.I,
)


def is_follow_up(question: str) -> bool:
    if _CUE.match(question):
        return True
    return bool(_BACK_REFERENCE.search(question)) and len(content_terms(question)) <= 2


def standalone_question(question: str, history: Sequence[Turn]) -> str:
    previous = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not previous or not is_follow_up(question):
        return question
    # Chain through earlier follow-ups so "and for Bun?" → "what about Deno?" keeps the topic.
    base = previous[-1]
    for earlier in reversed(previous[:-1]):
        if not is_follow_up(base):
            break
        base = f"{earlier} {base}"
    return f"{base} {question}"
