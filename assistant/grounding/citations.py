"""Check an LLM answer's `[n]` markers against the passages it was actually shown.

- unknown numbers (`[7]` when only 1–5 exist) are removed and reported;
- grouped markers (`[1, 2]`) are written as `[1][2]`, the form every edge renders;
- a sentence that states something without a valid citation, or an answer with no valid
  citation at all, fails the check: the caller must not return it as written.

"States something" is a heuristic: three or more words, not a heading, not a question,
not a lead-in ending with a colon, not a remark that the sources don't cover something.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from assistant.text import MARKER

_MARKERS = re.compile(r"(?:[ \t]*\[\d+(?:\s*[,;]\s*\d+)*\])+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ABBREVIATION = re.compile(r"\b(e\.g|i\.e|etc|vs|cf|approx|incl)\.$", re.I)
_WORD = re.compile(r"[^\W_][\w'’+#.-]*")
_LIST_LEAD = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# Saying what the sources lack is honest, and has nothing to cite.
_ABOUT_SOURCES = re.compile(
    r"""^(?:but|however|unfortunately)?,?\s*(?:
        (?:the|these|those|our|my|your)?\s*(?:provided\s+|retrieved\s+|available\s+)?
            (?:sources?|passages?|corpus|articles?|documents?|context)\b
            [^.]*\b(?:not|n't|no|nothing|neither|only)\b
      | (?:neither|none\s+of)\b[^.]*\b(?:sources?|passages?|articles?)\b
      | (?:i|we)\s+(?:can't|cannot|could\s+not|couldn't|don't|do\s+not)\b
    )""",
    re.I | re.X,
)
MIN_CLAIM_WORDS = 3


@dataclass
class CitationCheck:
    text: str  # the answer with unknown markers removed and groups split
    cited: list[int] = field(default_factory=list)  # valid numbers, in order of first use
    removed: list[int] = field(default_factory=list)  # unknown numbers taken out
    uncited: list[str] = field(default_factory=list)  # claim sentences without a citation

    @property
    def ok(self) -> bool:
        return bool(self.cited) and not self.uncited

    @property
    def reason(self) -> str | None:
        if not self.text.strip():
            return "the model returned an empty answer"
        if not self.cited:
            removed = f" (unknown: {_numbers(self.removed)})" if self.removed else ""
            return f"the answer cites no retrieved passage{removed}"
        if self.uncited:
            more = f" and {len(self.uncited) - 1} more" if len(self.uncited) > 1 else ""
            return f"a claim without a citation: {_quote(self.uncited[0])}{more}"
        return None


def check_citations(text: str, known: Collection[int]) -> CitationCheck:
    known = set(known)
    cited: list[int] = []
    removed: list[int] = []

    def fix(m: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        good = [n for n in dict.fromkeys(numbers) if n in known]
        removed.extend(n for n in numbers if n not in known and n not in removed)
        cited.extend(n for n in good if n not in cited)
        return ("" if not good else " " if m.group(0)[:1].isspace() else "") + "".join(
            f"[{n}]" for n in good
        )

    checked = MARKER.sub(fix, text.strip())
    checked = re.sub(r"[ \t]+([.,;:!?])", r"\1", checked)  # "fast [9]." → "fast."
    return CitationCheck(checked, cited, removed, [s for s in claims(checked) if not _cites(s)])


def claims(text: str) -> list[str]:
    """The sentences (and list items, table rows) of `text` that state something."""
    out: list[str] = []
    fenced = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            continue
        if fenced or not stripped or stripped.startswith("#") or set(stripped) <= set("|-: "):
            continue
        for sentence in sentences(_LIST_LEAD.sub("", stripped)):
            if _states_something(sentence):
                out.append(sentence)
    return out


def sentences(line: str) -> list[str]:
    """Split at sentence ends, keeping a marker that follows the full stop ("fast. [1]")
    and an abbreviation's full stop ("e.g. Hono") with their sentence."""
    parts: list[str] = []
    for piece in _SENTENCE.split(line):
        lead = _MARKERS.match(piece)
        if parts and lead:
            parts[-1] = f"{parts[-1]} {lead.group(0).strip()}"
            piece = piece[lead.end() :].strip()
        if not piece:
            continue
        if parts and _ABBREVIATION.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    return [p for p in parts if p.strip()]


def _states_something(sentence: str) -> bool:
    plain = MARKER.sub("", sentence).replace("**", "").replace("`", "").strip()
    if len(_WORD.findall(plain)) < MIN_CLAIM_WORDS:
        return False
    if plain.endswith(("?", ":")):
        return False
    return not _ABOUT_SOURCES.search(plain)


def _cites(sentence: str) -> bool:
    return bool(MARKER.search(sentence))


def _numbers(ns: list[int]) -> str:
    return ", ".join(f"[{n}]" for n in ns)


def _quote(sentence: str, limit: int = 120) -> str:
    sentence = " ".join(sentence.split())
    return repr(sentence if len(sentence) <= limit else sentence[: limit - 1] + "…")
