"""Offline answers composed only of the corpus' own sentences, each with its `[n]`.

Pick the few units that answer the question (relevance, not redundancy, every thing the
question names covered), order them by source section, and cite each section once.
"""

from __future__ import annotations

import re

from assistant.generators.base import Draft, Evidence, Generator
from assistant.grounding.evidence import ScoredUnit
from assistant.models import Citation
from assistant.prompts import Prompts
from assistant.text import shorten, strip_markers

MARGIN = 0.2  # units this far below the best one are not part of the answer
SECTION_MARGIN = 0.35  # … unless they come from the best unit's own chunk
REDUNDANT = 0.92  # cosine above which a second unit says the same thing
FOREIGN_MARGIN = 0.5  # share of MARGIN a unit from another document may fall behind
LEAD_BONUS = 0.15  # a section's opening line, when it stands for the thing in an answer
COVER_FLOOR = 0.4  # how good (relative to the best) a unit must be to cover a named thing
SNIPPET_CHARS = 320
_COMPARES = re.compile(r"\b(?:vs\.?|versus|or|differ\w*|difference|compar\w*)\b", re.I)


class ExtractiveGenerator(Generator):
    name = "extractive"

    def __init__(self, prompts: Prompts, max_sentences: int = 4) -> None:
        self.prompts = prompts
        self.max_sentences = max_sentences

    def select(self, evidence: Evidence) -> list[ScoredUnit]:
        # A unit that is nothing but a marker ("[9]") has nothing to quote.
        units = [u for u in evidence.units if not u.hit.chunk.preview and strip_markers(u.text)]
        if not units:
            return []
        best = units[0].score
        chosen: list[ScoredUnit] = [units[0]]
        home = units[0].hit.chunk.source

        def foreign(u: ScoredUnit) -> bool:
            """From another document, and not nearly as good as the best: an answer does
            not stitch unrelated manuals together on a shared word ("Node", "differ")."""
            return u.hit.chunk.source != home and u.score < best - MARGIN * FOREIGN_MARGIN

        def redundant(u: ScoredUnit) -> bool:
            return any(float(u.vec @ c.vec) > REDUNDANT or u.text == c.text for c in chosen)

        def room() -> bool:
            return len(chosen) < self.max_sentences

        # 1. Everything the question names (Fastify, NestJS, Bun…) gets its best unit; when
        #    it names several, they take turns so a comparison hears from both sides.
        q, subjects = evidence.query, evidence.lexical.subjects
        # The kind of thing asked for ("Which ORM…") is not one of the things compared.
        named = [t for t in q.focus if t in subjects and t not in q.wants]
        # "and for Bun?" is about Bun alone; "its drawbacks" still means the earlier subject.
        if len(named) < 2 and (q.focus == q.terms or q.refers_back):
            named += [t for t in q.terms if t in subjects and t not in q.wants]
        named = list(dict.fromkeys(named))
        rounds = 2 if len(named) >= 2 else 1
        compares = rounds == 2 and bool(_COMPARES.search(q.question))

        def lead(u: ScoredUnit) -> float:
            return LEAD_BONUS if compares and u.index == 0 else 0.0

        for _ in range(rounds):
            for term in named:
                # Unless the question compares them, the last place stays with the best
                # line left, whatever it names.
                if len(chosen) >= self.max_sentences - (0 if compares else 1):
                    break
                if rounds == 1 and any(term in c.subject for c in chosen):
                    continue
                # A unit from the thing's own section beats one that merely leads with it.
                fits = [u for u in units if u not in chosen and not redundant(u) and not foreign(u)]
                # In a comparison, the opening line of its section says what a thing is.
                own = [u for u in fits if term in u.heading]
                cover = max(own, key=lambda u: u.score + lead(u), default=None) or next(
                    (u for u in fits if term in u.subject), None
                )
                if cover and cover.score >= COVER_FLOOR * best:
                    chosen.append(cover)
        # 2. Then the best remaining units while they stay close to the best; another
        #    document must come closer still.
        first = units[0].hit.chunk.id
        for u in units:
            if not room() or u.score < best - SECTION_MARGIN:
                break
            # The best unit's own section may say more ("TS-only. End-to-end types
            # without code generation" beside "Use when: TS monorepo"): a wider margin.
            if u.hit.chunk.id != first and u.score < best - MARGIN:
                continue
            if foreign(u):
                continue
            if u not in chosen and not redundant(u):
                chosen.append(u)
        return chosen

    def generate(self, evidence: Evidence) -> Draft:
        chosen = self.select(evidence)
        # Group by section, sections in order of their best unit; in a section the best
        # unit leads (it answers the question) and the rest keep the text's order.
        groups: dict[str, list[ScoredUnit]] = {}
        for u in chosen:
            groups.setdefault(u.hit.chunk.id, []).append(u)
        citations: list[Citation] = []
        lines: list[str] = []
        for n, group in enumerate(groups.values(), start=1):
            group[1:] = sorted(group[1:], key=lambda u: u.index)
            rec = group[0].hit.chunk
            snippet = shorten(" … ".join(u.raw for u in group), SNIPPET_CHARS)
            citations.append(
                Citation(
                    n=n,
                    source=rec.source,
                    title=rec.title,
                    section=rec.section,
                    snippet=snippet,
                    score=round(max(u.score for u in group), 4),
                )
            )
            # Only the markers written here may stand: each one resolves to a citation.
            lines += [f"{strip_markers(u.text)} [{n}]" for u in group]
        points = lines[0] if len(lines) == 1 else "\n".join(f"- {line}" for line in lines)
        return Draft(self.prompts.render("extractive/answer.md", points=points), citations)
