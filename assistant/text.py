"""Tokenising shared by ingest, BM25, the grounding gate and the extractive composer."""

from __future__ import annotations

import re
from collections.abc import Collection

# Control characters (tabs and newlines aside): never part of a title, heading or text.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

_TOKEN = re.compile(r"[a-z0-9]+")
# A citation marker as answers write it: "[1]", "[1, 2]", "[1; 3]".
MARKER = re.compile(r"[ \t]*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# The heading label ingest/chunking.py writes before a unit ("**`bodyLimit`** — …"); answers
# quote units with it.
LABEL = re.compile(r"^\*\*[^*\n]+\*\*\s+—\s+")
_NUMBER = re.compile(r"^\d+[.)]\s+")
SEP = " › "  # joins the headings of a section path
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9`*])")
# Abbreviations a sentence rarely ends on: a stop after them continues the sentence.
_ABBREVIATION = re.compile(
    r"\b(?:e\.g|i\.e|vs|cf|approx|incl|esp|resp|viz|al|fig|figs|vol|eq|ref|mr|mrs|ms|dr|"
    r"prof|jr|sr|inc|ltd|corp|dept)\.$",
    re.I,
)

# Function words plus the words every stack question uses; they carry no topic.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren as at be because
    been before being below between both but by can cannot could did do does doing don
    down during each either else ever few for from further get got had has have having he
    her here hers him his how i if in into is isn it its itself just let lets me might
    more most much must my myself need needs no nor not now of off on once only or other
    ought our ours out over own per please rather really same say says shall she should so
    some such tell than that the their theirs them then there these they this those though
    through thus to too under until up upon us use used using very want wants was we were
    what whats when where whether which while who whom whose why will with within without
    would yes yet you your yours yourself s t d ll m re ve
    """.split()
)

# Question framing words: they say what kind of answer is wanted, not what it is about.
QUESTION_WORDS = frozenset(
    """
    best better choose choice pick picks recommend recommended recommendation suggest
    should good great option options prefer preferred right worth thing things way ways
    know explain describe give list article corpus according author say says said think
    opinion team teams we our project projects app apps application building build start
    starting new case cases mean means compare comparison versus vs difference differences
    between
    """.split()
)


def stem(token: str) -> str:
    """A deliberately light stemmer: plural and a few verb endings."""
    if len(token) <= 3 or token.isdigit():
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith("sses"):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def has_term(terms: Collection[str], term: str) -> bool:
    """`term` is in `terms`, in the singular or plural the light stemmer keeps apart
    ("vcpus" and "vcpu", "ids" and "id"): how a question's name is matched in a text."""
    if term in terms:
        return True
    single = term[:-1] if len(term) > 3 and term.endswith("s") else term
    return single in terms or f"{term}s" in terms


# Bump when `words` changes: a BM25 index made with other tokens is rebuilt.
TOKENIZER = "2"
# An identifier written in camel case: "maxParamLength", "decorateRequest", "PgBouncer".
_CAMEL = re.compile(r"\b[a-z]+(?:[A-Z][a-z0-9]+)+\b|\b(?:[A-Z][a-z0-9]+){2,}\b")
_HUMP = re.compile(r"[A-Z]?[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words; a camel-case identifier also gives its parts ("maxParamLength"
    → maxparamlength, max, param, length), as snake case already does."""
    found = _TOKEN.findall(text.lower())
    if any(c.isupper() for c in text):
        found += [h.lower() for m in _CAMEL.finditer(text) for h in _HUMP.findall(m.group())]
    return found


def tokenize(text: str) -> list[str]:
    """Stemmed content tokens for BM25 (stopwords dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def content_terms(text: str) -> list[str]:
    """Stemmed tokens that say what a question is about (no stopwords, no framing)."""
    seen: dict[str, None] = {}
    for w in words(text):
        if w in STOPWORDS or w in QUESTION_WORDS:
            continue
        seen.setdefault(stem(w), None)
    return list(seen)


ENCLOSED_CHARS = 400  # a bracket, code span or emphasis open longer than this is a stray


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on `v1.`, `Next.js`, after an
    abbreviation ("e.g. Foo") or inside brackets, code spans and emphasis ("(see A. Then
    B.)", "**Table 8.2. Numeric Types**"); a stray opener ("Smile :(") stops holding
    sentences together after ENCLOSED_CHARS. Linear in the length of the text."""
    text = text.strip()
    out: list[str] = []
    start = seen = 0
    parens = squares = ticks = stars = 0
    for m in _SENTENCE_END.finditer(text):
        piece = text[seen : m.start()]
        seen = m.start()
        parens = max(0, parens + piece.count("(") - piece.count(")"))
        squares = max(0, squares + piece.count("[") - piece.count("]"))
        ticks += piece.count("`")
        stars += piece.count("**")
        open_ = parens or squares or ticks % 2 or stars % 2
        if open_ and m.start() - start < ENCLOSED_CHARS:
            continue
        if _ABBREVIATION.search(text[max(start, m.start() - 12) : m.start()]):
            continue
        out.append(text[start : m.start()])
        start = seen = m.end()
        parens = squares = ticks = stars = 0
    out.append(text[start:])
    return [p.strip() for p in out if p.strip()]


def shorten(text: str, limit: int) -> str:
    """`text`, cut to `limit` characters with "…" when longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def strip_markers(text: str) -> str:
    """Corpus text without the `[n]`s written in it: quoted into an answer they would
    read as the assistant's citations, pointing at sources it never cited."""
    return MARKER.sub("", text).strip()


def short_name(heading: str) -> str:
    """'4. Go — Fiber, Echo, …' → 'Go'; '8. ORM / data layer' → 'ORM / data layer'."""
    return _NUMBER.sub("", heading).split(" — ")[0].strip()


def subject_terms(section: str, unit_text: str = "") -> set[str]:
    """Terms naming what a unit is about: its headings' short names and its lead.

    "Chi — minimal, …" leads with its subject; so does a label "**Fastify** — …".
    """
    terms = {t for part in section.split(SEP) if part for t in tokenize(short_name(part))}
    head, sep, _ = unit_text.partition(" — ")
    if sep and len(head) <= 60:
        terms.update(tokenize(head))
    return terms


def encodable(text: str) -> bool:
    """False for lone UTF-16 surrogates (JSON can carry them; a file name that is not
    UTF-8 decodes to them): no tokenizer or database reads such text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
