"""Question-level signals of how well the evidence found fits the question: what the
relevance judges read beside each passage (`Signals`). None decides alone: each was a
rule once, and is now a feature whose weight is fitted on labelled cases."""

from __future__ import annotations

from assistant.grounding.judges.base import Signals
from assistant.grounding.scoring import ScoredUnit, share
from assistant.grounding.support import NEARLY_AS_GOOD
from assistant.index.lexical import LexicalIndex
from assistant.query.intent import Query
from assistant.query.subjects import lacks

# Cosine of the leading passage below which matching one question word is not enough.
MIN_LEAD_MEANING = 0.25


def gather_signals(
    query: Query,
    evidence: list[ScoredUnit],
    lead: ScoredUnit | None,
    lexical: LexicalIndex,
    names: list[tuple[str, list[str]]],
    passing: bool,
    subjects_supported: float,
    subject_terms: set[str],
    judged: list[ScoredUnit],
) -> Signals:
    """`names` are the question's (`question_names`); `passing`: whether they are met only
    in passing (`only_in_passing`, which the subject rule also reads)."""
    # What the question asks about its subjects: "default body limit" of "Fastify". A
    # passage naming the subject but none of that answers another question about it.
    rest = [t for t in query.turn_terms if t not in subject_terms]
    chunk_terms: dict[str, set[str]] = {u.hit.chunk.id: set() for u in judged}
    for u in evidence:
        if u.hit.chunk.id in chunk_terms:
            chunk_terms[u.hit.chunk.id].update(u.terms)
    unknown = [w for w, parts in names if lacks(parts, lexical)]
    best = lead.evidence_score if lead else 0.0
    return Signals(
        names_unknown=len(unknown) / len(names) if names else 0.0,
        passing=passing,
        one_word=lead is not None and _one_word_at_a_time(query, evidence, lead),
        spread=_patchwork(query, evidence, best),
        subjects_supported=subjects_supported,
        follow_up=query.standalone != query.question,
        rest=[
            (share(rest, u.terms, lexical), share(rest, chunk_terms[u.hit.chunk.id], lexical))
            if rest
            else (1.0, 1.0)
            for u in judged
        ],
    )


def _one_word_at_a_time(query: Query, evidence: list[ScoredUnit], lead: ScoredUnit) -> bool:
    """ "What is the speed of light?" against "raw-speed" and "Macro-light": no passage
    holds two of the question's words, and the one leading the answer is far from it in
    meaning. Either alone is common in a right answer (paraphrases, short follow-ups)."""
    terms = query.turn_terms  # words the corpus lacks count: "bake sourdough bread" is three
    if len(terms) < 2:
        return False
    return lead.meaning < MIN_LEAD_MEANING and all(
        sum(t in u.terms for t in terms) < 2 for u in evidence
    )


def _patchwork(query: Query, evidence: list[ScoredUnit], best: float) -> int:
    """How many documents the leading passages come from, when none of them holds even
    half of the question ("speed of sound": an audio device's sample rate, a beep's
    frequency, a table of contents). 0 when the spread says nothing: a follow-up or a
    question about risks draws on several places by design."""
    if query.caution or query.standalone != query.question or not evidence:
        return 0
    if max(u.term_share for u in evidence) >= 0.5:
        return 0
    near = [u for u in evidence if u.evidence_score >= best - NEARLY_AS_GOOD]
    return len({u.hit.chunk.source for u in near})
