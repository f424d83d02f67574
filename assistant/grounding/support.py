"""Which of a question's subjects the evidence an answer would use mentions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from assistant.grounding.scoring import ScoredUnit
from assistant.index.lexical import LexicalIndex
from assistant.query.intent import Query
from assistant.query.subjects import Subject
from assistant.text import has_term, tokenize

NEARLY_AS_GOOD = 0.1  # how far below the best a passage still leads (the composer's bar)


@dataclass
class Support:
    missing: list[str] = field(default_factory=list)  # subjects the evidence never mentions
    anchors: list[str] = field(default_factory=list)  # names it covers an answer can be about
    share: float = 1.0  # of the subjects, how many it mentions


def subject_support(
    subjects: list[Subject],
    evidence: list[ScoredUnit],
    lexical: LexicalIndex,
    passing: Collection[str] = (),
) -> Support:
    """A subject is supported when each of its terms is in the passages leading the answer
    (those nearly as good as the best) or elsewhere in the leading passage's document:
    in a large corpus every name turns up somewhere ("Australia" in a list of time zones),
    just not where the answer comes from. Nor is a name met only in passing while the
    rest of the question is found in other documents (`passing`: `only_in_passing`).

    Anchors are supported subjects the corpus writes as names (Fastify, Spring Boot), not
    kinds of thing or acronyms (ORM, REST API): "Which ORM pairs well with Gleam?" has
    none, so it is not half covered by the corpus' ORMs for other languages.
    """
    if not subjects or not evidence:
        return Support([s.written for s in subjects if not s.known], [], 0.0 if subjects else 1.0)
    best = evidence[0].evidence_score
    near = {id(u.hit): u.hit for u in evidence if u.evidence_score >= best - NEARLY_AS_GOOD}
    used: set[str] = set()
    for hit in near.values():
        used.update(tokenize(f"{hit.chunk.title}\n{hit.chunk.section}\n{hit.chunk.text}"))
    sources = {evidence[0].hit.chunk.source}
    out = Support()
    for s in subjects:
        supported = (
            s.known
            and s.written not in passing
            and all(
                has_term(used, p) or lexical.mentioned_in([p], sources) is not False
                for p in s.parts
            )
        )
        if not supported:
            out.missing.append(s.written)
        elif _names_a_thing(s, lexical):
            out.anchors.append(s.written)
    out.share = 1 - len(out.missing) / len(subjects)
    return out


def _names_a_thing(subject: Subject, lexical: LexicalIndex) -> bool:
    if subject.written.rstrip("s").isupper():  # asked as an acronym: ORM, APIs, JWT
        return False
    return any(
        (p in lexical.proper or p in lexical.subjects) and not lexical.form(p).rstrip("s").isupper()
        for p in subject.parts
    )


def only_in_passing(
    names: list[tuple[str, list[str]]],
    query: Query,
    evidence: list[ScoredUnit],
    lexical: LexicalIndex,
) -> list[str]:
    """Names met only in passing, with the rest of the question found in other documents:
    "Australia" in a list of time zones, "capital" in another manual's table example.

    A name that heads no section and leads no item is mentioned in passing. When the
    passages found take the question's other terms from other documents, and the
    documents naming it hardly use those terms, an answer would be stitched from
    passages that each share one word with the question. Returned only when every name
    in the question is such a one. A question about the name alone ("Tell me about
    Scalar") is left to answer from the passing mention.
    """
    passing = []
    for word, parts in names:
        if any(p in lexical.subjects for p in parts):
            return []
        others = [t for t in dict.fromkeys(query.turn_terms + query.search_terms) if t not in parts]
        naming = {u.hit.chunk.source for u in evidence if any(has_term(u.terms, p) for p in parts)}
        rest = {u.hit.chunk.source for u in evidence if set(others) & u.terms}
        if not rest or naming & rest or lexical.sources is None:
            return []
        # Weighed by rarity: any manual page says "many"; few say "moons".
        weight = {t: lexical.idf(t) for t in others}
        used = sum(w for t, w in weight.items() if lexical.mentioned_in([t], naming))
        if used >= sum(weight.values()) / 2:
            return []
        passing.append(word)
    return passing
