"""Split a section's Markdown into answer units: bullets, sentences, table rows, tree steps.

A unit is the smallest piece an extractive answer may quote. Each keeps its raw text
(for citation snippets) and a display text that reads as a sentence, and knows whether
it names its own subject ("Chi — minimal, …") or needs the heading's ("Fastify: …").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from assistant.text import split_sentences

_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
# "Chi — …", "SQLAlchemy 2.0 — …", "Public API → …": the unit names its own subject.
_SELF_SUBJECT = re.compile(r"^(?:(?!\. )[^—:?]){1,60}?\s(?:—|→)\s")
_TREE = re.compile(r"^[│├└─\s]+")
MAX_UNIT_CHARS = 400


@dataclass
class Unit:
    text: str  # display text
    raw: str  # the text as it stands in the chunk
    kind: str  # bullet | sentence | row | step | code
    self_subject: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def split_units(body: str) -> list[Unit]:
    units: list[Unit] = []
    lines = [ln.rstrip() for ln in body.replace("  \n", "\n").split("\n")]
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.lstrip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith("```"):
                j += 1
            units += _code_units(lines[i + 1 : j])
            i = j + 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            units += _table_units(lines[i:j])
            i = j
        elif _BULLET.match(line):
            j = i + 1  # a bullet continues on indented lines only
            while j < len(lines) and lines[j][:1].isspace() and not _starts_block(lines[j]):
                j += 1
            raw = " ".join(ln.strip() for ln in lines[i:j])
            text = _BULLET.sub("", raw).strip()
            units += _sized(text, raw, "bullet")
            i = j
        else:
            j = i + 1
            while j < len(lines) and lines[j].strip() and not _starts_block(lines[j]):
                j += 1
            para = " ".join(ln.strip() for ln in lines[i:j])
            for sent in split_sentences(para):
                units += _sized(sent, sent, "sentence")
            i = j
    return units


def _starts_block(line: str) -> bool:
    s = line.lstrip()
    return bool(_BULLET.match(line)) or s.startswith(("|", "```", "#"))


def _sized(text: str, raw: str, kind: str) -> list[Unit]:
    """Long bullets are split at sentence ends so a unit stays quotable."""
    self_subject = bool(_SELF_SUBJECT.match(text))
    if len(text) <= MAX_UNIT_CHARS:
        return [Unit(text, raw, kind, self_subject)]
    parts = split_sentences(text)
    return [Unit(p, p, kind, self_subject and n == 0) for n, p in enumerate(parts)]


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _table_units(rows: list[str]) -> list[Unit]:
    if len(rows) < 3 or not re.match(r"^[\s|:-]+$", rows[1]):
        return [Unit(" ".join(_cells(r)), r, "row") for r in rows]
    header = _cells(rows[0])
    units = []
    for row in rows[2:]:
        cells = _cells(row)
        pairs = [f"{h}: {c}" for h, c in zip(header[1:], cells[1:], strict=False) if c]
        text = f"{cells[0]} — {'; '.join(pairs)}."
        units.append(Unit(text, f"{rows[0]}\n{row}", "row", True))
    return units


def _code_units(lines: list[str]) -> list[Unit]:
    """A decision tree ("Q1: …?" then its branches) gives one unit per question."""
    if not any(re.match(r"^\s*Q\d+\s*:", ln) for ln in lines):
        raw = "\n".join(lines).strip()
        return [Unit(raw[:MAX_UNIT_CHARS], raw, "code")] if raw else []
    units: list[Unit] = []
    current: list[str] = []
    for ln in [*lines, "Q0:"]:  # a sentinel closes the last question
        if re.match(r"^\s*Q\d+\s*:", ln) and current:
            raw = "\n".join(current)
            head, *branches = [_TREE.sub("", c).strip() for c in current]
            kept = [b for b in branches if not re.fullmatch(r"No\s*→\s*Q\d+", b)]
            text = " ".join([head, *[b if b.endswith(".") else b + "." for b in kept]])
            units.append(Unit(text, raw, "step", True))
            current = []
        current.append(ln)
    return units
