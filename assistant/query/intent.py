"""What a question asks for, read once before retrieval: its terms, the kind of thing it
wants ("Which ORM …?"), whether it asks about risks, and whether it asks for writing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.index.lexical import LexicalIndex
from assistant.text import content_terms

_WANTS = re.compile(
    r"\b(?:which|what|best|recommended|good|pick\s+an?|choose\s+an?|default)\s+"
    r"((?:[\w/-]+\s+){0,1}[\w/-]+)",
    re.I,
)
# Questions that ask whether a plan is a mistake, or what it risks. One asking leave to do
# something ("Can I query the DB from …?") is one too: the corpus' warning about it, when
# it has one near the best passage, answers first.
_ASKS_CAUTION = re.compile(
    r"""\b(good|bad)\s+idea\b | \bworth\b | \brisk | \b(ok(ay)?|fine|safe)\s+to\b
    | ^\W*(can|could|may)\s+(i|we)\b
    | \bgo(es)?\s+wrong\b | \b(any|a)\s+problem | \bproblems?\s+with\b | \bpitfall
    | \bdownside | \bdrawback | \bmistake
    | \bknock-on\b | \bconsequence | \bharm | \banti-?pattern | \bavoid\b
    | \bwhat\s+does\s+the\s+(guide|article|author)\s+think\b | ,\s*right\s*\?\s*$
    | \bcan\s+(we|i|the\s+\w+)\s+just\b""",
    re.I | re.X,
)
# Requests to write something (a poem, a birthday message) are not questions the
# articles can answer, however many of their words a large corpus happens to contain.
_COMPOSE = re.compile(
    r"""\b(write|compose|draft|pen|create|generate|make\s+up)\s+(me\s+)?(a|an|some|the)?\s*
    ([\w'-]+\s+){0,3}?
    (?P<thing>poem|poetry|haiku|limerick|song|lyrics|story|joke|message|note|letter|e-?mail|card
     |toast|speech|tweet|essay|greeting|wish(es)?)\b""",
    re.I | re.X,
)


@dataclass
class Query:
    question: str  # the turn as asked, minus any injected instructions
    standalone: str  # rewritten with the conversation for retrieval
    vector: np.ndarray
    turn_vector: np.ndarray  # the turn alone (differs from `vector` for follow-ups)
    # content terms, spelling corrected: of the standalone question, and of this turn alone
    search_terms: list[str] = field(default_factory=list)
    turn_terms: list[str] = field(default_factory=list)
    wants: set[str] = field(default_factory=set)  # the kind of thing asked for ("orm")
    refers_back: bool = False  # a follow-up that still means the earlier subject
    caution: bool = False  # asks whether a plan is a mistake / what it risks
    # The terms of each line of the answer the conversation last gave: what the user has
    # read already (empty for a first question).
    told: tuple[frozenset[str], ...] = ()


def make_query(
    question: str,
    standalone: str,
    vector: np.ndarray,
    turn_vector: np.ndarray,
    lexical: LexicalIndex,
    refers_back: bool = False,
    told: tuple[frozenset[str], ...] = (),
) -> Query:
    def corrected(text: str) -> list[str]:
        return list(dict.fromkeys(lexical.correct(t) for t in content_terms(text)))

    wants = {
        t
        for m in _WANTS.finditer(question or standalone)
        for t in corrected(m.group(1))
        if t in lexical.subjects
    }
    return Query(
        question,
        standalone,
        vector,
        turn_vector,
        corrected(standalone),
        corrected(question),
        wants,
        refers_back,
        asks_caution(question or standalone),
        told,
    )


def asks_caution(question: str) -> bool:
    return bool(_ASKS_CAUTION.search(question))


def writing_request(question: str) -> str | None:
    """What a request to write asks for ("a poem"), or None for a question."""
    if wanted := _COMPOSE.search(question):
        thing = wanted.group("thing").lower()
        return f"{'an' if thing[0] in 'aeiou' else 'a'} {thing}"
    return None
