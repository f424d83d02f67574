"""The grounding gate: answer only what the corpus holds evidence for, and say what not.

In order:
1. Rules that are not about relevance: nothing left to look up once instructions were
   cut out (`query.injection`), or a request to write a poem rather than a question.
2. Subjects: every language, framework or tool the question asks about or constrains by
   (`query.subjects`) must be mentioned by the evidence the answer would use. When none of
   the names the corpus writes about is, the answer is a refusal naming what it lacks;
   when some are, the answer covers those and says which it does not (`uncovered`).
3. Relevance: a `RelevanceJudge` gives each leading passage the probability that it
   answers the question; the best one must reach the judge's calibrated threshold.

An answer about a close name instead of the one asked ("Honox" read as Hono, "Lucia v4"
when the corpus states v3) carries that name in `stand_ins`, for the answer to say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.grounding.judges.base import RelevanceJudge
from assistant.grounding.scoring import ScoredUnit
from assistant.grounding.signals import gather_signals
from assistant.grounding.support import only_in_passing, subject_support
from assistant.index.lexical import LexicalIndex
from assistant.prompts import Prompts
from assistant.query.intent import Query, writing_request
from assistant.query.names import StandIn, listing, question_names, stand_in_note, stand_ins
from assistant.query.subjects import question_subjects

JUDGED = 5  # leading passages the judge scores: an answer is built from the first few


@dataclass
class GateResult:
    ok: bool
    reason: str
    best: float  # evidence score of the leading passage (meaning + rare terms)
    unknown: list[str]  # names asked that the corpus never mentions
    writing: str | None = None  # what a request to write asked for ("a message")
    # Names asked that the corpus lacks, read as close ones it has (an answer says so first)
    stand_ins: list[StandIn] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # subjects the answer can't cover
    probability: float | None = None  # the judge's best, when it was asked
    judge: str | None = None

    def note(self, prompts: Prompts) -> str:
        """What the answer says first: what it is not about ("" if nothing)."""
        notes = [stand_in_note(self.stand_ins, prompts)]
        asked = [u for u in self.uncovered if u not in {s.asked for s in self.stand_ins}]
        if asked:
            notes.append(prompts.render("uncovered.md", names=listing(asked, "or")))
        return " ".join(n for n in notes if n)

    def covered(self, query: Query) -> Query:
        """The question as the answer can take it: about the names the corpus covers."""
        text = query.standalone
        for s in self.stand_ins:
            text = re.sub(rf"(?<![\w.]){re.escape(s.asked)}(?![\w])", s.covered, text)
        return replace(query, standalone=text) if text != query.standalone else query


def assess(
    query: Query, units: list[ScoredUnit], lexical: LexicalIndex, judge: RelevanceJudge
) -> GateResult:
    verdict = _assess(query, units, lexical, judge)
    if verdict.ok:  # the whole conversation's question: a follow-up is about it still
        verdict.stand_ins = stand_ins(query.standalone, lexical)
        asked = [s.asked for s in verdict.stand_ins if s.asked not in verdict.unknown]
        verdict.unknown = [*verdict.unknown, *asked]
    return verdict


def leading(units: list[ScoredUnit]) -> list[ScoredUnit]:
    """Evidence units best first by what they hold, not by what the question's intent
    added (that ranks units for the composer; it is not evidence). Chunks read only as
    the rest of the best section are the composer's, not the gate's."""
    evidence = [u for u in units if not u.hit.chunk.preview and not u.hit.context]
    return sorted(evidence, key=lambda u: -(u.evidence_score))


def _assess(
    query: Query, units: list[ScoredUnit], lexical: LexicalIndex, judge: RelevanceJudge
) -> GateResult:
    evidence = leading(units)
    lead = evidence[0] if evidence else None
    best = lead.evidence_score if lead else 0.0
    if not query.question.strip():
        return GateResult(False, "nothing left to answer once instructions were removed", 0, [])
    if not (query.turn_terms or query.search_terms):
        return GateResult(False, "the question names nothing to look up", best, [])
    if thing := writing_request(query.question):
        return GateResult(False, f"a request to write {thing}", best, [], writing=thing)
    names = question_names(query.question, lexical)
    subjects = question_subjects(query.question, lexical, names)
    unknown = [s.written for s in subjects if not s.known]
    if lead is None:
        return GateResult(False, "no passage in the corpus answers the question", best, unknown)
    passing = only_in_passing(names, query, evidence, lexical)
    support = subject_support(subjects, evidence, lexical, passing)
    if support.missing and not support.anchors:
        what = listing(support.missing, "or")
        reason = (
            f"the corpus never mentions {what}"
            if all(s in unknown for s in support.missing)
            else f"no passage found is about {what}"
        )
        return GateResult(False, reason, best, unknown, uncovered=support.missing)
    judged = evidence[:JUDGED]
    parts = {p for s in subjects for p in s.parts}
    signals = gather_signals(query, evidence, lead, lexical, names, bool(passing), support.share,
                             parts, judged)  # fmt: skip
    probability = max(judge.judge(query, judged, signals), default=0.0)
    ok = probability >= judge.threshold
    reason = "grounded" if ok else "no passage in the corpus answers the question"
    return GateResult(
        ok, reason, best, unknown, uncovered=support.missing if ok else [],
        probability=probability, judge=judge.name,
    )  # fmt: skip
