"""The grounding gate: answer only when the corpus holds evidence for the question.

Two tests, both needed to answer:
- the best evidence unit must reach `min_evidence` relevance, and
- a question naming things the corpus never mentions (Rails, Kafka, CockroachDB…) needs
  `strong_evidence`: otherwise the nearest passages are about something else.
Instructions embedded in a question are cut out before anything else sees it, so they
can neither steer retrieval nor talk the gate into answering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.evidence import Query, ScoredUnit
from assistant.lexical import LexicalIndex
from assistant.text import QUESTION_WORDS, STOPWORDS, stem, tokenize, words

_INJECTION = re.compile(
    r"""(
      \b(ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,60}
          \b(instructions?|rules?|prompt|guidelines|above|previous|context|sources?|documents?
             |article|corpus|text|citations?)\b
    | \byou\s+are\s+(now|no\s+longer)\b
    | \b(act|behave|pretend|respond|answer|talk|speak|write|reply)\s+(as|like)\s+(a|an|if)\b
    | \b(system|developer)\s+(prompt|message|instructions?)\b
    | \bjailbreak|\bDAN\b|\bdeveloper\s+mode\b
    | \b(print|reveal|show|repeat|output)\b[^.?!\n]{0,30}\b(prompt|instructions|rules)\b
    | \b(say|state|claim|tell\s+(me|them|everyone))\s+(that\s+)?[^.?!\n]{0,80}
          \b(instead|regardless)\b
    | \bnew\s+(instructions?|rules?|task)\s*:
    | \b(reply|respond|answer|output)\s+(only\s+)?with\b
    | \b(don'?t|do\s+not|never)\s+(cite|use|mention)\s+(any\s+)?(sources?|citations?)\b
    | \bfrom\s+now\s+on\b
    | </?\s*(system|instructions?|assistant)\s*>
    )""",
    re.I | re.X,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?:])\s+|\n")


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop every sentence that tries to change the assistant's instructions."""
    kept, found = [], False
    for sentence in _SENTENCE_BREAK.split(question):
        if _INJECTION.search(sentence) or _says_something_wrong(sentence):
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


def assess(
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
