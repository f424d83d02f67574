"""The grounding gate: answer only when the corpus holds evidence for the question.

Two tests, both needed to answer:
- the best evidence unit must reach `min_evidence` relevance, and
- a question naming things the corpus never mentions (Rails, Kafka, CockroachDB…) needs
  `strong_evidence`: otherwise the nearest passages are about something else.
Instructions embedded in a question are cut out before anything else sees it, so they
can neither steer retrieval nor talk the gate into answering. An answer it lets through
about a close name instead of the one asked ("Honox" read as Hono, "Lucia v4" when the
corpus states v3) carries that name in `stand_ins`, for the answer to say so first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.evidence import Query, ScoredUnit
from assistant.injection import INSTRUCTIONS
from assistant.lexical import ALIASES, NAME, VERSION, LexicalIndex, name_key
from assistant.prompts import Prompts
from assistant.text import QUESTION_WORDS, STOPWORDS, stem, tokenize, words

_SENTENCE_BREAK = re.compile(r"(?<=[.!?:])\s+|\n")


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop every sentence that tries to change the assistant's instructions."""
    kept, found = [], False
    for sentence in _SENTENCE_BREAK.split(question):
        if INSTRUCTIONS.search(sentence) or _says_something_wrong(sentence):
            found = True
        else:
            kept.append(sentence.strip())
    return " ".join(s for s in kept if s), found


def _says_something_wrong(sentence: str) -> bool:
    # "Say Fastify is slow." / "Tell me that X ..." as an order, not a question
    return bool(re.match(r"^\s*(and\s+)?(say|state|claim|tell\s+\w+\s+that)\b", sentence, re.I))


# Requests to write something (a poem, a birthday message) are not questions the
# articles can answer, however many of their words a large corpus happens to contain.
_COMPOSE = re.compile(
    r"""\b(write|compose|draft|pen|create|generate|make\s+up)\s+(me\s+)?(a|an|some|the)?\s*
    ([\w'-]+\s+){0,3}?
    (?P<thing>poem|poetry|haiku|limerick|song|lyrics|story|joke|message|note|letter|e-?mail|card
     |toast|speech|tweet|essay|greeting|wish(es)?)\b""",
    re.I | re.X,
)
# Cosine of the leading passage below which matching one question word is not enough.
MIN_LEAD_MEANING = 0.25
# Leading passages from this many documents, none holding half the question: a patchwork.
PATCHWORK_DOCUMENTS = 3
NEARLY_AS_GOOD = 0.1  # how far below the best a passage still leads (the composer's bar)
TOP_UNITS = 1  # the best evidence unit: what an answer is built around
_PAIRED = re.compile(r"\s*(?:,|\bor\b|\bvs\.?|\bversus\b|\band\b)\s*[A-Z]")
_NAME = re.compile(r"[A-Za-z][\w.+#/-]*[\w+#]|[A-Za-z]")


def question_names(question: str, lexical: LexicalIndex) -> list[tuple[str, list[str]]]:
    """Names in the question (Rails, CockroachDB, shared_buffers), each with its terms.

    A name is a capitalised word not opening a sentence, a word with inner capitals,
    digits, underscores or dots, or a lowercase word the corpus itself writes capitalised. A
    sentence opener is a name only when paired with another ("Hono vs Elysia"); short
    acronyms ("I", "OK") never are.
    """
    out = []
    for m in _NAME.finditer(question):
        word = m.group(0)
        before = question[: m.start()].rstrip()
        opener = not before or before[-1] in ".?!:;\"'(—-"
        inner = any(ch.isupper() for ch in word[1:]) or any(
            ch.isdigit() or ch == "_" for ch in word
        )
        # "Loco.rs", "Node.js": a dot inside a word makes a name ("e.g" does not).
        inner = inner or ("." in word and min(map(len, word.split("."))) >= 2)
        if len(word) <= 2 or word.lower() in STOPWORDS or word.lower() in QUESTION_WORDS:
            continue
        # A capitalised opener is a name when it is paired with another name ("Fastify
        # or NestJS?"), not when it merely starts a sentence ("Following the tree…").
        paired = opener and bool(_PAIRED.match(question, m.end()))
        parts = [lexical.correct(stem(w)) for w in words(word)]
        # Typed in lowercase, a word is a name when the corpus writes it capitalised
        # ("does hono pull in deps?", "capital of canada?").
        cased = word.islower() and all(p in lexical.proper for p in parts)
        if not (inner or cased or (word[0].isupper() and (paired or not opener))):
            continue
        if parts:
            out.append((word, parts))
    return out


@dataclass(frozen=True)
class StandIn:
    """A name the corpus never mentions ("Honox", "Lucia v4") and the closest one it does
    ("Hono", "Lucia"): what an answer to the question is really about."""

    asked: str
    covered: str


# A name with a version after it ("Lucia v4", "Next.js 16"); a count is followed by what
# it counts ("Fastify 3 times"), a plural.
_NAMED_VERSION = re.compile(
    rf"(?P<name>{NAME.pattern})\s+(?P<version>{VERSION})(?:\s+(?P<next>\w+))?"
)


def stand_ins(question: str, lexical: LexicalIndex) -> list[StandIn]:
    """Names in the question the corpus lacks, each with the close one it covers instead.

    Two kinds. A name spelling correction maps onto another that is not a slip of the
    same one: the corpus' name plus or minus letters at an end ("Honox", "Prismax") or
    other digits ("Axum2"); a typo ("fastfy", "djagno") or an alias ("golang") is the
    name meant. And a version the corpus never states beside a name it covers ("Lucia v4":
    it says v3; "Next.js 16": it gives none).
    """
    out: dict[str, StandIn] = {}
    for m in NAME.finditer(question):
        word = m.group(0).rstrip(".")
        raw = [stem(w) for w in words(word)]
        if not raw or any(w in STOPWORDS or w in QUESTION_WORDS for w in raw):
            continue
        fixed = [lexical.correct(w) for w in raw]
        # Read as a name the corpus writes as one ("honox" → Hono), or written as a name
        # ("Prismax") and read as what the corpus writes about ("Prisma — …"); a word is
        # not a name for nearing a heading's word ("quickly" → "Quick table").
        before = question[: m.start()].rstrip()
        capital = word[0].isupper() and bool(before) and before[-1] not in ".?!:;\"'(—-"
        inner = any(ch.isupper() or ch.isdigit() for ch in word[1:])
        named = inner or all(
            f in lexical.proper or (capital and f in lexical.subjects) for f in fixed
        )
        if named and any(_another_name(a, f, lexical) for a, f in zip(raw, fixed, strict=True)):
            out.setdefault(word, StandIn(word, lexical.form(" ".join(fixed))))
    for m in _NAMED_VERSION.finditer(question):
        name, version, after = m.group("name").rstrip("."), m.group("version"), m.group("next")
        if after and after.lower() not in STOPWORDS and stem(after.lower()) != after.lower():
            continue  # "3 times", "10 endpoints": a count
        key = name_key(" ".join(lexical.correct(stem(w)) for w in words(name)))
        parts = key.split()
        if not parts or not all(p in lexical.df for p in parts) or name in out:
            continue  # a name the corpus lacks altogether is the gate's to judge
        if not (
            parts[0] in lexical.proper or (not name.islower() and parts[0] in lexical.subjects)
        ):
            continue  # "step 2", "top 10": no name
        if lexical.states_version(key, version) is False:
            asked = f"{name} {version}"
            out.setdefault(asked, StandIn(asked, lexical.form(key)))
    return list(out.values())


def _another_name(asked: str, read_as: str, lexical: LexicalIndex) -> bool:
    if asked == read_as or read_as not in lexical.df or ALIASES.get(asked) == read_as:
        return False
    digits = [ch for ch in asked if ch.isdigit()] != [ch for ch in read_as if ch.isdigit()]
    short, long = sorted((asked, read_as), key=len)
    return digits or long.startswith(short) or long.endswith(short)


def stand_in_note(found: list[StandIn], prompts: Prompts) -> str:
    """What an answer says first when it is about names other than those asked."""
    if not found:
        return ""
    asked = _listing([s.asked for s in found], "or")
    covered = _listing(list(dict.fromkeys(s.covered for s in found)), "and")
    return prompts.render("not_in_corpus.md", asked=asked, covered=covered)


def _listing(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


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
    if wanted := _COMPOSE.search(query.question):
        thing = wanted.group("thing").lower()
        thing = f"{'an' if thing[0] in 'aeiou' else 'a'} {thing}"
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
