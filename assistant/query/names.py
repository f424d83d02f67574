"""Names in a question (Rails, CockroachDB, shared_buffers) and the close names the corpus
covers instead of ones it lacks ("Honox" read as Hono, "Lucia v4" when it states v3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.index.lexical import ALIASES, NAME, VERSION, LexicalIndex, name_key
from assistant.prompts import Prompts
from assistant.query.english import is_english
from assistant.text import QUESTION_WORDS, STOPWORDS, stem, words

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
        # ("does hono pull in deps?", "capital of canada?"); an English word is not
        # taken for a misspelt one ("flaky" is not "Flask").
        typed = [stem(w) for w in words(word)]
        cased = word.islower() and all(
            p in lexical.proper and (p == t or not is_english(t))
            for p, t in zip(parts, typed, strict=True)
        )
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
    asked = listing([s.asked for s in found], "or")
    covered = listing(list(dict.fromkeys(s.covered for s in found)), "and")
    return prompts.render("not_in_corpus.md", asked=asked, covered=covered)


def listing(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
