"""Offline answers composed only of the corpus' own sentences, each with its `[n]`.

Pick the few units that answer the question (relevance, not redundancy, every thing the
question names covered), lead with the one that answers what was asked, support it with
the rest, and cite each section once.
"""

from __future__ import annotations

import re
from copy import copy
from dataclasses import replace

from assistant.generators.base import Draft, Evidence, Generator
from assistant.grounding.scoring import ScoredUnit, share
from assistant.models import SNIPPET_CHARS, Citation
from assistant.prompts import Prompts
from assistant.text import LABEL, shorten, strip_markers, tokenize

MARGIN = 0.2  # units this far below the best one are not part of the answer
SECTION_MARGIN = 0.35  # … unless they come from the best unit's own chunk
REDUNDANT = 0.92  # cosine above which a second unit says the same thing
# A candidate loses this much per unit of cosine to the closest unit already chosen, so
# that the next line says something the answer has not said (maximal marginal relevance):
# lines of one list share their heading label, and that alone made five of them outrank
# the sentence that explains the thing. Fitted on the tuning sets (0.1 and 0.2 gain a
# case, 0.15 none, 0.3 loses one: near-ties decide; the smallest that gains); evals/README.md,
# stop 29.
DIVERSITY = 0.1
FOREIGN_MARGIN = 0.5  # share of MARGIN a unit from another document may fall behind
LEAD_BONUS = 0.15  # a section's opening line, when it stands for the thing in an answer
COVER_FLOOR = 0.4  # how good (relative to the best) a unit must be to cover a named thing
# The lead is the unit that speaks to what the question asks about (its words beyond the
# things it names: "fastest", "default", "close the pool"), not merely the best match.
W_ASPECT = 0.15
W_OPENING = 0.05  # a section's opening line usually states its point
# A follow-up asks for what the last answer did not say: a line that repeats one of its
# lines is support for the new answer, not its lead. Fitted on the tuning sets (0.1 and 0.2
# gain the same two leads, 0.3 trades one; the smallest that gains; measured before the
# lead's rivals were kept to its own passage, which gains the same two); evals/README.md,
# stop 35.
W_TOLD = 0.1
MAX_CODE = 1  # code supports an answer; more than one block is an example, not an answer
LIST_ITEMS, LIST_CHARS = 6, 500  # a list read into the line that introduces it, at most
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_COMPARES = re.compile(r"\b(?:vs\.?|versus|or|differ\w*|difference|compar\w*)\b", re.I)
# A sentence that leans on the one before it: it opens by pointing back ("This is no longer
# allowed", "As a result, …") or by a condition on the value just described ("If `false`,
# …"), or is too short to stand alone ("Fastify blocks this.").
_LEANS_BACK = re.compile(
    r"^(?:this|that|these|those|it|such|as\s+a\s+result|the\s+above|in\s+this\s+(?:example|case)"
    r"|instead|otherwise|however|therefore|thus)\b"
    r"|^(?:if|when|unless)\s+(?:`[^`]+`|(?:true|false|set|enabled|disabled|omitted|not\s+set)\b)"
    # or by a demonstrative in its opening clause ("If you want to preserve this list …")
    r"|^[^,.;:`]{0,60}?\b(?:this|these|those)\s+[a-z]",
    re.I,
)
LEANING_CHARS = 40  # a sentence shorter than this continues the one before it
# A labelled field of reference docs ("Default: `1048576` (1MiB)", "Type: `string`"): the
# direct answer when the question asks for what its label names.
_FIELD = re.compile(r"^(?:\*\*[^*\n]+\*\*\s+—\s+)?([A-Z][a-z]+(?: [a-z]+)?):\s+\S")


# A question that asks two things ("which region …, and where do I set another?"): a second
# question mark, or a clause joined on that asks anew.
_SECOND_ASK = re.compile(
    r"\?\s*\S.*\?"
    r"|,\s*(?:and|or|but)\s+(?:what|how|which|why|when|where|does|do|is|are|can|should)\b"
    r"|\b(?:and|or)\s+(?:what|how|which|why|when|where)\b",
    re.I,
)
SECOND_ASK_LINES = 1  # the smallest that gains on the tuning sets (2 gains no more)


def _asks_twice(question: str) -> bool:
    return bool(_SECOND_ASK.search(question))


class ExtractiveGenerator(Generator):
    name = "extractive"

    def __init__(self, prompts: Prompts, max_sentences: int = 4) -> None:
        self.prompts = prompts
        self.max_sentences = max_sentences

    def select(self, evidence: Evidence) -> list[ScoredUnit]:
        # A unit that is nothing but a marker ("[9]") has nothing to quote.
        units = _explained(
            [u for u in evidence.units if not u.hit.chunk.preview and strip_markers(u.text)]
        )
        if not units:
            return []
        best = units[0].score
        chosen: list[ScoredUnit] = [units[0]]
        home = units[0].hit.chunk.document

        def foreign(u: ScoredUnit) -> bool:
            """From another work, and not nearly as good as the best: an answer does not
            stitch unrelated manuals together on a shared word ("Node", "differ")."""
            return u.hit.chunk.document != home and u.score < best - MARGIN * FOREIGN_MARGIN

        def redundant(u: ScoredUnit) -> bool:
            if _is_block(u) and sum(map(_is_block, chosen)) >= MAX_CODE:
                return True
            return any(float(u.vec @ c.vec) > REDUNDANT or u.text == c.text for c in chosen)

        def room() -> bool:
            return len(chosen) < self.max_sentences

        # 1. Everything the question names (Fastify, NestJS, Bun…) gets its best unit; when
        #    it names several, they take turns so a comparison hears from both sides.
        q, subjects = evidence.query, evidence.lexical.subjects
        # The kind of thing asked for ("Which ORM…") is not one of the things compared.
        named = [t for t in q.turn_terms if t in subjects and t not in q.wants]
        # "and for Bun?" is about Bun alone; "its drawbacks" still means the earlier subject.
        if len(named) < 2 and (q.turn_terms == q.search_terms or q.refers_back):
            named += [t for t in q.search_terms if t in subjects and t not in q.wants]
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
        # 2. Then the best remaining units while they stay close to the best, each the one
        #    that adds most beside those chosen; another document must come closer still.
        first = units[0].hit.chunk.id
        flagged = next((u.hit.chunk.id for u in units if u.warning), None) if q.caution else None

        # The best unit's own section may say more ("TS-only. End-to-end types without
        # code generation" beside "Use when: TS monorepo"): a wider margin.
        close = [
            u
            for u in units
            if u.score >= best - (SECTION_MARGIN if u.hit.chunk.id == first else MARGIN)
            and not foreign(u)
        ]

        def eligible(u: ScoredUnit) -> bool:
            # One warning of a list answers a question about risks: the nearest one.
            heard = flagged and any(c.warning for c in chosen)
            if heard and u.hit.chunk.id == flagged and u.warns:
                return False
            return u not in chosen and not redundant(u)

        def novel(u: ScoredUnit) -> float:
            return u.score - DIVERSITY * max(float(u.vec @ c.vec) for c in chosen)

        while room() and (fits := [u for u in close if eligible(u)]):
            chosen.append(max(fits, key=novel))
        # 3. A field the question asks for ("what's the default …?") from a chosen chunk.
        asks = set(q.turn_terms)
        if not any(_asked_field(u, asks) for u in chosen):
            ids = {u.hit.chunk.id for u in chosen}
            fields = [u for u in units if u.hit.chunk.id in ids and _asked_field(u, asks)]
            if fields:
                chosen = [*chosen[: self.max_sentences - 1], max(fields, key=lambda u: u.score)]
        return _answered(chosen, units)

    def generate(self, evidence: Evidence) -> Draft:
        if _asks_twice(evidence.query.question):
            # Room for what the second question asks, in a copy: one composer serves all.
            composer = copy(self)
            composer.max_sentences += SECOND_ASK_LINES
            return composer._compose(evidence)
        return self._compose(evidence)

    def _compose(self, evidence: Evidence) -> Draft:
        chosen = self.read_together(self.select(evidence), evidence.units)
        lead = lead_unit(chosen, evidence)
        chosen, lead = self.introduced(chosen, lead, evidence.units)
        chosen = self.with_its_code(chosen, lead, evidence.units)
        # Sections in order of their best unit, the lead's first; in a section the best
        # unit comes first and the rest keep the text's order.
        if lead is not None:
            chosen = [lead, *(u for u in chosen if u is not lead)]
        groups: dict[str, list[ScoredUnit]] = {}
        for u in chosen:
            groups.setdefault(u.hit.chunk.id, []).append(u)
        citations: list[Citation] = []
        cited: dict[int, int] = {}  # id(unit) → its citation number
        for n, group in enumerate(groups.values(), start=1):
            group[1:] = sorted(group[1:], key=lambda u: u.index)
            rec = group[0].hit.chunk
            snippet = shorten(" … ".join(u.raw for u in group), SNIPPET_CHARS)
            citations.append(Citation.of(n, rec, snippet, max(u.score for u in group)))
            cited.update({id(u): n for u in group})
        # Only the markers written here may stand: each one resolves to a citation. The
        # lead opens the first group, so it comes first.
        order = [u for group in groups.values() for u in group]
        points = _render(order, cited, lead is not None)
        return Draft(self.prompts.render("extractive/answer.md", points=points), citations)

    def read_together(self, chosen: list[ScoredUnit], units: list[ScoredUnit]) -> list[ScoredUnit]:
        """A chosen sentence is quoted with the sentence it leans on, or that leans on it
        ("This is no longer allowed in v5." needs the one before it to say what); a chosen
        list item after the line that introduces it (a line ending in ':'), with the
        other items chosen from that list. Each stays one place in the answer."""
        at = {(u.hit.chunk.id, u.index): u for u in units}
        out: list[ScoredUnit] = []
        done: set[int] = set()
        for u in chosen:
            if id(u) in done:
                continue
            done.add(id(u))
            chunk = u.hit.chunk.id
            if u.kind == "bullet":
                start = u.index - 1
                while (chunk, start) in at and at[(chunk, start)].kind == "bullet":
                    start -= 1
                intro = at.get((chunk, start))
                if (
                    intro is not None
                    and intro.kind == "sentence"
                    and intro not in chosen
                    and strip_markers(intro.raw).endswith(":")
                ):
                    end = u.index + 1  # past the list's last item
                    while (chunk, end) in at and at[(chunk, end)].kind == "bullet":
                        end += 1
                    last = min(end - 1, u.index + LIST_ITEMS)
                    items = sorted(
                        (c for c in chosen
                         if c.hit.chunk.id == chunk and c.kind == "bullet"
                         and (c is u or id(c) not in done) and start < c.index <= last),
                        key=lambda c: c.index,
                    )  # fmt: skip
                    said = "; ".join(
                        _BULLET.sub("", strip_markers(LABEL.sub("", c.text))).rstrip(" .;:")
                        for c in items
                    )
                    done.update(id(c) for c in items)
                    out.append(replace(
                        u, text=f"{strip_markers(intro.text)} {said}.",
                        raw=f"{intro.raw} {said}.", index=intro.index, kind="sentence",
                        score=max(c.score for c in items),
                    ))  # fmt: skip
                    continue
            merged = u
            before, after = at.get((chunk, u.index - 1)), at.get((chunk, u.index + 1))
            if (
                before is not None
                and before not in chosen
                and id(before) not in done
                and _leans(before, u)
            ):
                done.add(id(before))
                merged = replace(
                    merged, text=f"{before.text} {LABEL.sub('', u.text)}",
                    raw=f"{before.raw} {u.raw}", index=before.index,
                )  # fmt: skip
            # The line after, even when chosen on its own, goes on with this one (once).
            if after is not None and id(after) not in done and _leans(u, after):
                done.add(id(after))
                merged = replace(
                    merged, text=f"{merged.text} {LABEL.sub('', after.text)}",
                    raw=f"{merged.raw} {after.raw}",
                )  # fmt: skip
            out.append(merged)
        return out

    def with_its_code(
        self, chosen: list[ScoredUnit], lead: ScoredUnit | None, units: list[ScoredUnit]
    ) -> list[ScoredUnit]:
        """The code block right after the lead in its chunk shows what the lead says
        ("…you need to add a custom Content-Type parser"): an answer without code brings
        it, in the weakest unit's place when full."""
        if lead is None or any(map(_is_block, chosen)):
            return chosen
        after = next(iter(_following(lead, units, same_chunk=True)), None)
        if after is None or not _is_block(after):
            return chosen
        if len(chosen) >= self.max_sentences:
            weakest = min((u for u in chosen if u is not lead), key=lambda u: u.score, default=None)
            chosen = [u for u in chosen if u is not weakest]
        return [*chosen, after]

    def introduced(
        self, chosen: list[ScoredUnit], lead: ScoredUnit | None, units: list[ScoredUnit]
    ) -> tuple[list[ScoredUnit], ScoredUnit | None]:
        """A lead ending in ':' promises what follows it. A list that follows is read
        into the lead's line ("They differ from group in that: only one message is sent;
        the operation is sequential."); anything else (a command, a table row) joins the
        answer, in the weakest unit's place."""
        if lead is None or not strip_markers(lead.raw).endswith(":"):
            return chosen, lead
        following = _following(lead, units)
        items = []
        for u in following[: LIST_ITEMS + 1]:
            if u.kind != "bullet":
                break
            items.append(u)
        more = len(items) > LIST_ITEMS
        items = items[:LIST_ITEMS]
        if items:
            said = [_BULLET.sub("", strip_markers(u.raw)).rstrip(" .;:") for u in items]
            tail = f"{'; '.join(said)}{'; …' if more else '.'}"
            text = f"{strip_markers(lead.text)} {tail}"
            if len(text) <= LIST_CHARS:
                merged = replace(lead, text=text, raw=f"{lead.raw} {tail}")
                rest = [u for u in chosen if u is not lead and u not in items]
                return [merged, *rest], merged
        after = following[0] if following else None
        if after is None or after in chosen:
            return chosen, lead
        if _is_block(after):
            chosen = [u for u in chosen if not _is_block(u)]
        if len(chosen) >= self.max_sentences:
            weakest = min((u for u in chosen if u is not lead), key=lambda u: u.score)
            chosen = [u for u in chosen if u is not weakest]
        return [*chosen, after], lead


def _explained(units: list[ScoredUnit]) -> list[ScoredUnit]:
    """Units best first, where the sentence right after a code block that speaks of it
    ("The above example mutates the request object …") ranks as high as the code: code
    matches a question by its identifiers, the prose says what the code means, and code
    is never the lead."""
    at = {(u.hit.chunk.id, u.index): u for u in units}
    raised = {}
    for u in units:
        code = at.get((u.hit.chunk.id, u.index - 1))
        if (
            code is not None
            and _is_block(code)
            and u.kind == "sentence"
            and code.score > u.score
            and _LEANS_BACK.match(_own_words(u))
        ):
            raised[id(u)] = replace(u, score=code.score)
    if not raised:
        return units
    return sorted((raised.get(id(u), u) for u in units), key=lambda u: -u.score)


def _answered(chosen: list[ScoredUnit], units: list[ScoredUnit]) -> list[ScoredUnit]:
    """A question the prose asks itself ("Soft, or hard?") matches a question well and says
    nothing: its place goes to the first sentence after it, in its chunk, that the answer
    does not hold yet (what the text says in reply)."""
    at = {(u.hit.chunk.id, u.index): u for u in units}
    out: list[ScoredUnit] = []
    for u in chosen:
        if not _asks(u):
            out.append(u)
            continue
        n = u.index + 1
        while (nxt := at.get((u.hit.chunk.id, n))) is not None and (
            nxt in chosen or nxt in out or _asks(nxt)
        ):
            n += 1
        if nxt is not None and nxt.kind == "sentence":
            out.append(nxt)
    return out


def _following(
    lead: ScoredUnit, units: list[ScoredUnit], same_chunk: bool = False
) -> list[ScoredUnit]:
    """The units after `lead` in its section, in the text's order, into the next chunk
    unless `same_chunk`. A lead read together with its neighbours (`read_together`) ends
    where the last unit it quotes ends."""
    rec = lead.hit.chunk
    orders = (rec.order,) if same_chunk else (rec.order, rec.order + 1)
    section = sorted(
        (u for u in units
         if u.hit.chunk.source == rec.source and u.hit.chunk.section == rec.section
         and u.hit.chunk.order in orders),
        key=lambda u: (u.hit.chunk.order, u.index),
    )  # fmt: skip
    at = next((n for n, u in enumerate(section)
               if u.hit.chunk.id == rec.id and u.index == lead.index), None)  # fmt: skip
    if at is None:
        return []
    while (
        at + 1 < len(section)
        and section[at + 1].hit.chunk.id == rec.id
        and section[at + 1].raw
        and section[at + 1].raw in lead.raw
    ):
        at += 1
    return section[at + 1 :]


def _asked_field(u: ScoredUnit, asked: set[str]) -> bool:
    """`u` is a labelled field whose label is one of the question's terms."""
    field = _FIELD.match(strip_markers(u.text))
    return bool(field) and not _is_code(u) and bool(set(tokenize(field.group(1))) & asked)


def _leans(first: ScoredUnit, then: ScoredUnit) -> bool:
    """`then` (the unit after `first` in its chunk) continues `first`; so do the lines of
    one warning admonition, read as the one warning they are (while short)."""
    own = _own_words(then)
    labels = [m.group(0) for u in (first, then) if (m := LABEL.match(u.text))]
    if len(labels) == 2 and labels[0] != labels[1]:
        return False  # labelled apart: another item or part of the section ("pool support")
    if first.in_warning and then.in_warning and not _is_code(then):
        return bool(own) and len(first.raw) + len(then.raw) <= LIST_CHARS
    return (
        then.kind == "sentence"
        and first.kind in ("sentence", "bullet")
        and bool(own)
        and (bool(_LEANS_BACK.match(own)) or len(own) < LEANING_CHARS)
    )


def _own_words(u: ScoredUnit) -> str:
    """The unit's text without the heading label put before it, and without markers."""
    return strip_markers(LABEL.sub("", u.text)).strip()


def _retold(u: ScoredUnit, told: tuple[frozenset[str], ...]) -> float:
    """How much of one line of the last answer `u` repeats, at most (0 to 1)."""
    if not told:
        return 0.0
    own = set(tokenize(_own_words(u)))
    return max(len(line & own) / len(line) for line in told)


def _asks(u: ScoredUnit) -> bool:
    """A sentence of prose that is a question (a checklist's items are bullets)."""
    return u.kind == "sentence" and strip_markers(u.raw).rstrip().endswith("?")


def _is_code(u: ScoredUnit) -> bool:
    return u.kind == "code"


def _is_block(u: ScoredUnit) -> bool:
    """Code of more than one line: shown as a block, one to an answer."""
    return _is_code(u) and _code_line(u) is None


def _code_line(u: ScoredUnit) -> str | None:
    """A one-line code unit's code ("pip install celery[pytest]"), else None."""
    lines = [ln for ln in u.text.strip().split("\n") if not ln.startswith("```")]
    return lines[0].strip() if len(lines) == 1 and "`" not in lines[0] else None


def lead_unit(chosen: list[ScoredUnit], evidence: Evidence) -> ScoredUnit | None:
    """The unit an answer opens with: a warning when the question asks whether a plan is
    wise, else the prose unit that best matches what the question asks about. Code is
    never the lead."""
    prose = [u for u in chosen if not _is_code(u)]
    if not prose:
        return None
    q, lexical = evidence.query, evidence.lexical
    # The warning answers whether a plan is wise when, as evidence, it would be part of the
    # answer without the question's intent lifting it: a tool's "Downsides" far below the
    # line that speaks to the plan do not answer it.
    warning = next((u for u in prose if u.warning), None) if q.caution else None
    if warning and warning.evidence_score >= max(u.evidence_score for u in prose) - MARGIN:
        return warning
    if fields := [u for u in prose if _asked_field(u, set(q.turn_terms))]:
        return max(fields, key=lambda u: u.score)
    aspect = [t for t in q.search_terms if t not in lexical.subjects and t not in q.wants]
    # The lead comes from the answer's own document; there, from what the question asks.
    about = [u for u in prose if u.hit.chunk.document == chosen[0].hit.chunk.document] or prose
    # A sentence asking a question ("Soft, or hard?") raises what the next ones answer.
    about = [u for u in about if not _asks(u)] or about

    def fit(u: ScoredUnit) -> float:
        opening = W_OPENING if u.index == 0 else 0.0
        aspect_share = share(aspect, u.terms, lexical, known_only=True)
        return u.evidence_score + W_ASPECT * aspect_share + opening

    best = max(about, key=fit)
    if not q.told:
        return best
    # What the user has read yields the lead to another line of its own passage, not to
    # another passage: the conversation's subject stays what the answer is about.
    rivals = [u for u in about if u.hit.chunk.id == best.hit.chunk.id]
    return max(rivals, key=lambda u: fit(u) - W_TOLD * _retold(u, q.told))


def _render(units: list[ScoredUnit], cited: dict[int, int], lead: bool) -> str:
    """The lead as its own line, then the support as a list (a line of code as code);
    a code block after them."""

    def line(u: ScoredUnit) -> str:
        code = _code_line(u) if _is_code(u) else None
        return f"{f'`{code}`' if code else strip_markers(u.text)} [{cited[id(u)]}]"

    lines = [line(u) for u in units if not _is_block(u)]
    head, rest = (lines[:1], lines[1:]) if lead else ([], lines)
    listed = [f"- {ln}" for ln in rest] if head or len(rest) > 1 else rest
    blocks = [f"{u.text.strip()}\n[{cited[id(u)]}]" for u in units if _is_block(u)]
    return "\n\n".join(p for p in ["\n".join(head), "\n".join(listed), *blocks] if p)
