"""Score every answer unit of the retrieved chunks against the question.

Shared by the grounding gate (is there evidence at all?) and the extractive composer
(which units make the answer). Scores mix meaning (cosine of precomputed unit vectors)
with the share of the question's rare terms a unit contains, so "Fastify" in a question
pulls up units from the Fastify section even when their wording differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.index.lexical import LexicalIndex
from assistant.models import Hit
from assistant.query.intent import Query
from assistant.retrieval.warnings import advises_against, warns
from assistant.text import subject_terms, tokenize

W_LEX = 0.35  # weight of rare-term overlap with the whole (standalone) question
W_FOCUS = 0.25  # extra weight for the terms of the turn just asked (follow-ups)
W_RANK = 0.05  # a little trust in the fused retrieval rank
W_WANT = 0.3  # "Which ORM …?": units about an ORM answer it, others only mention it
W_CAUTION = 0.15  # "Is that a good idea?": the corpus' warnings answer it


@dataclass
class ScoredUnit:
    hit: Hit
    index: int  # position of the unit within its chunk
    text: str
    raw: str
    vec: np.ndarray
    terms: set[str]
    subject: set[str]  # terms naming what the unit is about: its section and lead
    heading: set[str]  # the part of `subject` that comes from its section's headings
    meaning: float  # cosine to the question (and to a follow-up's own turn)
    term_share: float  # idf-weighted share of the question's terms it has
    turn_share: float  # the same for a follow-up's own terms (0 for a first question)
    score: float  # what ranks it: the above, its chunk's rank, the question's intent
    intent_bonus: float = 0.0  # the part of `score` owed to the question's intent
    warning: bool = False  # the warning nearest a question that asks about risks
    kind: str = ""  # sentence | bullet | row | step | code
    in_warning: bool = False  # part of a warning admonition ("> ⚠ Warning: …")

    @property
    def warns(self) -> bool:
        """A warning: in a warning admonition, led by a warning's label, or in a section
        on pitfalls."""
        return self.in_warning or warns(self.hit.chunk.section, self.text)

    @property
    def evidence_score(self) -> float:
        """What the unit scores as evidence: its rank without the intent's help."""
        return self.score - self.intent_bonus


def share(
    terms: list[str], have: set[str], lexical: LexicalIndex, known_only: bool = False
) -> float:
    """idf-weighted share of the question's terms that a unit has.

    Unknown terms weigh as the rarest: a question about things the corpus lacks scores
    low everywhere. For a follow-up's focus they are left out ("counterpart").
    """
    if known_only:
        terms = [t for t in terms if t in lexical.df]
    total = sum(lexical.idf(t) for t in terms)
    return sum(lexical.idf(t) for t in terms if t in have) / total if total else 0.0


_TERMS: dict[str, list[tuple[set[str], set[str], set[str]]]] = {}


def _unit_terms(rec) -> list[tuple[set[str], set[str], set[str]]]:
    """(terms, subject, heading) of each unit; cached by chunk id (a content hash)."""
    cached = _TERMS.get(rec.id)
    if cached is None:
        section_terms = set(tokenize(rec.section))
        heading = subject_terms(rec.section)
        cached = [
            (set(tokenize(u["text"])) | section_terms, subject_terms(rec.section, u["text"]),
             heading)
            for u in rec.units
        ]  # fmt: skip
        if len(_TERMS) > 50_000:
            _TERMS.clear()
        _TERMS[rec.id] = cached
    return cached


def score_units(query: Query, hits: list[Hit], lexical: LexicalIndex) -> list[ScoredUnit]:
    out: list[ScoredUnit] = []
    for hit in hits:
        rec = hit.chunk
        if rec.unit_vecs is None or not rec.units:
            continue
        sems = rec.unit_vecs @ query.vector
        if query.turn_vector is not query.vector:
            sems = (sems + rec.unit_vecs @ query.turn_vector) / 2
        for i, (unit, (terms, subject, heading)) in enumerate(
            zip(rec.units, _unit_terms(rec), strict=True)
        ):
            lex = share(query.search_terms, terms, lexical)
            focus = (
                share(query.turn_terms, terms, lexical, known_only=True)
                if query.turn_terms != query.search_terms
                else 0.0
            )
            sem = float(sems[i])
            want = W_WANT if query.wants & subject else 0.0
            score = sem + W_LEX * lex + W_FOCUS * focus + W_RANK / (1 + hit.rank) + want
            out.append(
                ScoredUnit(
                    hit,
                    i,
                    unit["text"],
                    unit["raw"],
                    rec.unit_vecs[i],
                    terms,
                    subject,
                    heading,
                    sem,
                    lex,
                    focus,
                    score,
                    intent_bonus=want,  # what the question's intent adds ranks; it is not evidence
                    kind=unit.get("kind", ""),
                    in_warning=bool(unit.get("warns")),
                )
            )
    if query.caution:
        # The one warning nearest the question, not its whole list; a warning sharing
        # none of the question's terms is about something else (a style guide's "avoid").
        # A sentence advising against what it describes warns too, wherever it stands.
        warning = max(
            (u for u in out if u.term_share > 0 and (u.warns or advises_against(u.text))),
            key=lambda u: u.score,
            default=None,
        )
        if warning is not None:
            warning.score += W_CAUTION
            warning.intent_bonus += W_CAUTION
            warning.warning = True
    out.sort(key=lambda u: -u.score)
    return out
