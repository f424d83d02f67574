"""The grounding gate: answer only when the corpus holds evidence for the question.

Two tests, both needed to answer:
- the best evidence unit must reach `min_evidence` relevance, and
- a question naming things the corpus never mentions (Rails, Kafka, CockroachDB…) needs
  `strong_evidence`: otherwise the nearest passages are about something else.
Instructions embedded in a question were cut out before anything else saw it
(`query.injection`), so they can neither steer retrieval nor talk the gate into answering.
An answer it lets through
about a close name instead of the one asked ("Honox" read as Hono, "Lucia v4" when the
corpus states v3) carries that name in `stand_ins`, for the answer to say so first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.grounding.evidence import ScoredUnit
from assistant.index.lexical import LexicalIndex
from assistant.prompts import Prompts
from assistant.query.intent import Query, writing_request
from assistant.query.names import StandIn, question_names, stand_in_note, stand_ins
from assistant.text import tokenize

# Cosine of the leading passage below which matching one question word is not enough.
MIN_LEAD_MEANING = 0.25
# Leading passages from this many documents, none holding half the question: a patchwork.
PATCHWORK_DOCUMENTS = 3
NEARLY_AS_GOOD = 0.1  # how far below the best a passage still leads (the composer's bar)
TOP_UNITS = 1  # the best evidence unit: what an answer is built around


def _only_in_passing(
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
        others = [t for t in dict.fromkeys(query.focus + query.terms) if t not in parts]
        naming = {u.hit.chunk.source for u in evidence if any(p in u.terms for p in parts)}
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


def _one_word_at_a_time(query: Query, evidence: list[ScoredUnit], lead: ScoredUnit) -> bool:
    """ "What is the speed of light?" against "raw-speed" and "Macro-light": no passage
    holds two of the question's words, and the one leading the answer is far from it in
    meaning. Either alone is common in a right answer (paraphrases, short follow-ups)."""
    terms = query.focus  # words the corpus lacks count: "bake sourdough bread" is three
    if len(terms) < 2:
        return False
    return lead.sem < MIN_LEAD_MEANING and all(
        sum(t in u.terms for t in terms) < 2 for u in evidence
    )


def _patchwork(query: Query, evidence: list[ScoredUnit], best: float) -> int:
    """How many documents the leading passages come from, when none of them holds even
    half of the question ("speed of sound": an audio device's sample rate, a beep's
    frequency, a table of contents). 0 when the spread says nothing: a follow-up or a
    question about risks draws on several places by design."""
    if query.caution or query.standalone != query.question or not evidence:
        return 0
    if max(u.lex for u in evidence) >= 0.5:
        return 0
    near = [u for u in evidence if u.score - u.boost >= best - NEARLY_AS_GOOD]
    return len({u.hit.chunk.source for u in near})


@dataclass
class GateResult:
    ok: bool
    reason: str
    best: float
    unknown: list[str]
    writing: str | None = None  # what a request to write asked for ("a message")
    # Names asked that the corpus lacks, read as close ones it has (an answer says so first)
    stand_ins: list[StandIn] = field(default_factory=list)

    def note(self, prompts: Prompts) -> str:
        """What the answer says first: the names asked that it is not about ("" if none)."""
        return stand_in_note(self.stand_ins, prompts)

    def covered(self, query: Query) -> Query:
        """The question as the answer can take it: about the names the corpus covers."""
        text = query.standalone
        for s in self.stand_ins:
            text = re.sub(rf"(?<![\w.]){re.escape(s.asked)}(?![\w])", s.covered, text)
        return replace(query, standalone=text) if text != query.standalone else query


def assess(
    query: Query,
    units: list[ScoredUnit],
    lexical: LexicalIndex,
    min_evidence: float,
    strong_evidence: float,
) -> GateResult:
    verdict = _assess(query, units, lexical, min_evidence, strong_evidence)
    if verdict.ok:  # the whole conversation's question: a follow-up is about it still
        verdict.stand_ins = stand_ins(query.standalone, lexical)
        asked = [s.asked for s in verdict.stand_ins if s.asked not in verdict.unknown]
        verdict.unknown = [*verdict.unknown, *asked]
    return verdict


def _assess(
    query: Query,
    units: list[ScoredUnit],
    lexical: LexicalIndex,
    min_evidence: float,
    strong_evidence: float,
) -> GateResult:
    evidence = [u for u in units if not u.hit.chunk.preview]
    # What the question's intent added ranks units; it is not evidence.
    lead = max(evidence, key=lambda u: u.score - u.boost, default=None)
    best = lead.score - lead.boost if lead else 0.0
    if not query.question.strip():
        return GateResult(False, "nothing left to answer once instructions were removed", 0, [])
    if not (query.focus or query.terms):
        return GateResult(False, "the question names nothing to look up", best, [])
    if thing := writing_request(query.question):
        return GateResult(False, f"a request to write {thing}", best, [], writing=thing)
    names = question_names(query.question, lexical)
    unknown = [w for w, parts in names if not all(p in lexical.df for p in parts)]
    if best < min_evidence:
        return GateResult(False, "no passage in the corpus answers the question", best, unknown)
    if best >= strong_evidence:
        return GateResult(True, "grounded", best, unknown)
    if unknown:
        return GateResult(False, f"the corpus never mentions {', '.join(unknown)}", best, unknown)
    if passing := _only_in_passing(names, query, evidence, lexical):
        reason = f"the corpus mentions {', '.join(passing)} only in passing"
        return GateResult(False, reason, best, passing)
    if lead and _one_word_at_a_time(query, evidence, lead):
        return GateResult(False, "each passage shares a single word with the question", best, [])
    if (spread := _patchwork(query, evidence, best)) >= PATCHWORK_DOCUMENTS:
        reason = f"the passages found are scattered over {spread} documents, none about it"
        return GateResult(False, reason, best, [])
    # In a large corpus every name turns up somewhere ("Australia" in a list of time
    # zones), just not in the documents the answer would be built from.
    top = {id(u.hit): u.hit for u in evidence[:TOP_UNITS]}.values()
    sources = {hit.chunk.source for hit in top}
    used: set[str] = set()
    for hit in top:
        used.update(tokenize(f"{hit.chunk.title}\n{hit.chunk.section}\n{hit.chunk.text}"))
    absent = [
        w
        for w, parts in names
        if not any(p in used for p in parts) and lexical.mentioned_in(parts, sources) is False
    ]
    if absent and 2 * len(absent) >= len(names):  # "Ruby on Rails": Ruby found, Rails not
        return GateResult(False, f"no passage found is about {', '.join(absent)}", best, absent)
    return GateResult(True, "grounded", best, unknown)
