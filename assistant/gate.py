"""The grounding gate: answer only when the corpus holds evidence for the question.

Two independent tests, both needed to answer:
- the question's subject must be something the corpus has words for (idf-weighted share
  of its content terms found in the corpus vocabulary), and
- the best evidence unit must reach `min_evidence` relevance.
Instructions embedded in a question are cut out before anything else sees it, so they
can neither steer retrieval nor talk the gate into answering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.evidence import Query, ScoredUnit, known_share
from assistant.lexical import LexicalIndex

MIN_KNOWN_SHARE = 0.5

_INJECTION = re.compile(
    r"""(
      \b(ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,60}
          \b(instruction|instructions|rules?|prompt|guidelines|above|previous|context|sources?)\b
    | \byou\s+are\s+(now|no\s+longer)\b
    | \b(act|behave|pretend|respond|answer|talk|speak|write|reply)\s+(as|like)\s+(a|an|if)\b
    | \b(system|developer)\s+(prompt|message|instructions?)\b
    | \bjailbreak|\bDAN\b|\bdeveloper\s+mode\b
    | \b(print|reveal|show|repeat|output)\b[^.?!\n]{0,30}\b(prompt|instructions|rules)\b
    | \b(say|state|claim|tell\s+(me|them|everyone))\s+(that\s+)?[^.?!\n]{0,80}
          \b(instead|regardless)\b
    | \bnew\s+(instructions?|rules?|task)\s*:
    | \bfrom\s+now\s+on\b
    | </?\s*(system|instructions?|assistant)\s*>
    )""",
    re.I | re.X,
)
_SENTENCES = re.compile(r"[^.!?\n]+[.!?]*")


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop every sentence that tries to change the assistant's instructions."""
    kept, found = [], False
    for sentence in _SENTENCES.findall(question):
        if _INJECTION.search(sentence) or _says_something_wrong(sentence):
            found = True
        else:
            kept.append(sentence.strip())
    return " ".join(s for s in kept if s), found


def _says_something_wrong(sentence: str) -> bool:
    # "Say Fastify is slow." / "Tell me that X ..." as an order, not a question
    return bool(re.match(r"^\s*(and\s+)?(say|state|claim|tell\s+\w+\s+that)\b", sentence, re.I))


@dataclass
class GateResult:
    ok: bool
    reason: str
    best: float
    known: float


def assess(
    query: Query, units: list[ScoredUnit], lexical: LexicalIndex, min_evidence: float
) -> GateResult:
    known = known_share(query, lexical)
    evidence = [u for u in units if not u.hit.chunk.preview]
    best = evidence[0].score if evidence else 0.0
    if not query.question.strip():
        return GateResult(False, "nothing left to answer once instructions were removed", 0, 0)
    if not (query.focus or query.terms):
        return GateResult(False, "the question names nothing to look up", best, known)
    if known < MIN_KNOWN_SHARE:
        return GateResult(False, "the corpus does not cover the question's subject", best, known)
    if best < min_evidence:
        return GateResult(False, "no passage in the corpus answers the question", best, known)
    return GateResult(True, "grounded", best, known)
