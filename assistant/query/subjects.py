"""The subjects of a question: every language, framework, tool or product it asks about or
constrains by ("Which ORM pairs well with Gleam?" → Gleam; "kafka or nats?" → both).

A subject is
- a name as `question_names` reads it (capitalised mid-sentence, inner capitals or digits,
  ALL CAPS, dotted, or written capitalised by the corpus), or a sentence's first word the
  corpus writes as a name ("Quarkus native on …");
- a name with a symbol ("F#", "C++", ".NET");
- an alternative offered in a choice ("X or Y", "X vs Y", "X + Y", "X instead of Y") when
  either side is a name or a word English rarely uses that the corpus lacks ("redis or
  memcached", "gin or beego"): offered alternatives are what a choice is about, whatever
  their case; a rare word alone ("deps", "prod") is jargon as often as a tool. The sides
  taken are the names and the words the corpus lacks or writes about: a word it only
  uses in passing ("incrementing") says what kind of choice it is;
- any other word the corpus lacks that English almost never uses ("netlify", "koyeb").
Names next to each other are one subject ("Azure Functions", "Dart Frog").

Whether the corpus covers a subject is the corpus' own vocabulary; whether English uses a
word is a word-frequency prior (wordfreq), never a list of tools. A misspelt name is read
as the corpus name it is close to ("fastfy"), never as a common word ("rollbar" is not
"rollback").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from assistant.index.lexical import LexicalIndex, name_key
from assistant.query.english import ALONE_ZIPF, english_zipf
from assistant.query.names import question_names
from assistant.text import QUESTION_WORDS, STOPWORDS, has_term, stem, words

# Zipf scale: 3 is once per million words of English, 2 once per ten million.
CHOICE_ZIPF = 3.3  # rarer than this, a word offered as a choice the corpus lacks is a name
_SYMBOL_NAME = re.compile(r"(?<![\w.#+])(?:[A-Za-z]{1,3}(?:#|\+\+)|\.[A-Z][A-Za-z]+)(?![\w#+])")
_TERM = re.compile(r"[A-Za-z][\w.+#-]*[\w+#]|[A-Za-z]")
_CHOICE = re.compile(
    rf"(?P<a>{_TERM.pattern})\s*(?:,?\s+or\s+|\s+vs\.?\s+|\s+versus\s+|\s*\+\s*"
    rf"|\s+instead\s+of\s+)(?P<b>{_TERM.pattern})",
    re.I,
)
_OPENER = re.compile(r"(?:^|[.!?:;]\s+)$")


@dataclass(frozen=True)
class Subject:
    written: str  # as the question writes it: "Gleam", "kafka", "F#"
    parts: tuple[str, ...]  # its stemmed terms, misspelt names corrected
    known: bool  # the corpus mentions it somewhere
    start: int = 0  # where the question writes it


def question_subjects(
    question: str, lexical: LexicalIndex, names: list[tuple[str, list[str]]] | None = None
) -> list[Subject]:
    """`names`: `question_names` of the question, when the caller has them already."""
    spans: dict[int, tuple[int, str, list[str]]] = {}  # start → (end, written, parts)

    def add(start: int, written: str, parts: list[str]) -> None:
        end = start + len(written)
        if parts and not any(s <= start < e or start <= s < end for s, (e, _, _) in spans.items()):
            spans[start] = (end, written, parts)

    for m in _SYMBOL_NAME.finditer(question):
        # Index terms drop symbols ("F#" is "f"): the corpus covers such a name only where
        # it writes it so; otherwise the name is its own term, one no passage has.
        key = name_key(m.group(0))
        known = bool(key) and lexical.form(key).lower() == m.group(0).lower()
        add(m.start(), m.group(0), key.split() if known else [m.group(0).lower()])
    if names is None:
        names = question_names(question, lexical)
    named = {w for w, _ in names}
    for m in _TERM.finditer(question):
        word, parts = m.group(0), _terms(m.group(0), lexical)
        if parts is None:
            continue
        opener = bool(_OPENER.search(question[: m.start()]))
        corpus_name = word[0].isupper() and all(p in lexical.proper for p in parts)
        unknown = lacks(parts, lexical)
        shouted = word.isupper() and english_zipf(word.lower()) >= CHOICE_ZIPF  # "SYSTEM"
        if (
            (word in named and len(word) > 2 and not shouted)
            or (opener and corpus_name)
            or (
                unknown
                and word.isalpha()
                and english_zipf(word.lower()) < ALONE_ZIPF
                and not _misspelt_word(word.lower(), lexical)
                and not _derived_word(word.lower(), lexical)
            )
        ):
            add(m.start(), word, parts)
    for m in _CHOICE.finditer(question):
        sides = [(m.start(s), m.group(s), _terms(m.group(s), lexical)) for s in ("a", "b")]
        if any(parts is None for _, _, parts in sides):
            continue
        if any(
            w in named or (lacks(parts, lexical) and english_zipf(w.lower()) < CHOICE_ZIPF)
            for _, w, parts in sides
        ):
            # A side the corpus has only as a plain word ("ids instead of incrementing
            # numbers"), never as a name or what a section or item is about, describes
            # the choice; it is not a thing the answer must name.
            for start, w, parts in sides:
                if (
                    w in named
                    or lacks(parts, lexical)
                    or all(p in lexical.proper or p in lexical.subjects for p in parts)
                ):
                    add(start, w, parts)
    return _joined(question, [spans[s] for s in sorted(spans)], lexical)


def _joined(
    question: str, found: list[tuple[int, str, list[str]]], lexical: LexicalIndex
) -> list[Subject]:
    """Adjacent names as one subject: "Azure Functions", "Spring Boot"."""
    out: list[Subject] = []
    for end, written, parts in found:
        start = end - len(written)
        prev = out[-1] if out else None
        if (
            prev is not None
            and question[prev.start + len(prev.written) : start] == " "
            and prev.written[0].isupper()
            and written[0].isupper()
        ):
            parts = [*prev.parts, *parts]
            written = f"{prev.written} {written}"
            start = prev.start
            out.pop()
        out.append(Subject(written, tuple(parts), not lacks(parts, lexical), start))
    return out


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from wordfreq import top_n_list

    return frozenset(w for w in top_n_list("en", 50_000) if w.isalpha())


def _misspelt_word(word: str, lexical: LexicalIndex) -> bool:
    """ "limt", "shuold": one slip (a letter dropped, added, changed or swapped) away from
    a common English word or a word of the corpus; a name is not ("netlify", "koyeb")."""
    if len(word) < 4:
        return False
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
    edits |= {a + c + b for a, b in splits for c in letters}
    edits.discard(word)
    return any(_known(e, lexical) for e in edits)


# Endings English derives words with: "dockerized" is about Docker, "retryable" retries.
_SUFFIXES = re.compile(
    r"(?:i[sz]ed|i[sz]ing|i[sz]e|i[sz]ation|able|ability|less|ness|ment|ed|ing|er|ers|ly)$"
)


# Beginnings it derives them with: "untyped" is about types, "reconnects" connects again.
_PREFIXES = re.compile(r"^(?:un|non|re|pre|mis|dis|de|over|under|sub|multi|auto)-?")


def _derived_word(word: str, lexical: LexicalIndex) -> bool:
    """A word English makes from one the corpus or English has: not a name of its own. A
    prefix must leave a whole word ("untyped": "typed"), not a syllable ("unkey", "deno")."""
    rest = _PREFIXES.sub("", word)
    return _suffixed(word, lexical) or (
        rest != word and len(rest) >= 4 and (_known(rest, lexical) or _suffixed(rest, lexical))
    )


def _suffixed(word: str, lexical: LexicalIndex) -> bool:
    base = _SUFFIXES.sub("", word)
    return base != word and len(base) >= 3 and _known(base, lexical)


def _known(word: str, lexical: LexicalIndex) -> bool:
    """A common English word or one of the corpus (the cheaper test first)."""
    return word in _common_words() or stem(word) in lexical.df


def lacks(parts: list[str] | tuple[str, ...], lexical: LexicalIndex) -> bool:
    """The corpus lacks one of a name's terms (in the singular and the plural alike)."""
    return not all(has_term(lexical.df, p) for p in parts)


def _terms(word: str, lexical: LexicalIndex) -> list[str] | None:
    """A word as index terms, a misspelt name corrected onto the corpus name it is close
    to; None for function words and numbers ("which", "2025")."""
    raw = [stem(w) for w in words(word)]
    if not raw or any(w in STOPWORDS or w in QUESTION_WORDS or w.isdigit() for w in raw):
        return None
    fixed = []
    for w in raw:
        c = lexical.correct(w)
        fixed.append(c if c == w or c in lexical.proper or c in lexical.subjects else w)
    return fixed
