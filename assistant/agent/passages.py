"""The numbered passages an LLM has been shown: what its `[n]` markers may point at.

Every chunk the model sees (retrieved before it starts, or returned by a tool) gets one
number for the whole answer, so a marker means the same passage wherever it appears, and
the citation check knows exactly which numbers are real.

Passages are documents, not instructions: they reach the model as one block of quoted
data, `<passages>` of `<passage>` elements (the system rules say never to follow what they
say). A document cannot close the block early: its own such tags are defused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from assistant.models import SNIPPET_CHARS, ChunkRecord, Citation
from assistant.text import shorten, strip_markers, tokenize

SNIPPET_UNITS = 2
OPEN, CLOSE = "<passages>", "</passages>"
_TAG = re.compile(r"<(\s*/?\s*passages?\b)", re.I)  # the delimiters, as a document may write them
MIN_CLIPPED_CHARS = 200  # a passage cut shorter than this is left out instead


@dataclass
class Passage:
    n: int
    chunk: ChunkRecord
    score: float  # relevance to the question (unit score, or fused retrieval score)
    via: str  # how the model got it: "retrieved", "search", "read_section"

    @property
    def body(self) -> str:
        # a document's own [n]s would read as passage numbers: only ours may be cited
        return strip_markers(self.chunk.text)

    def render(self, max_chars: int | None = None) -> str:
        text = self.body if max_chars is None else shorten(self.body, max_chars)
        head = f"[{self.n}] {self.chunk.section} ({self.chunk.source})"
        return f'<passage n="{self.n}">\n{defuse(head)}\n{defuse(text)}\n</passage>'


class Passages:
    def __init__(self) -> None:
        self.by_n: dict[int, Passage] = {}
        self._by_id: dict[str, Passage] = {}

    def add(self, chunk: ChunkRecord, score: float, via: str) -> Passage:
        """Number a chunk (or give back the number it already has)."""
        known = self._by_id.get(chunk.id)
        if known is not None:
            return known
        passage = Passage(len(self.by_n) + 1, chunk, score, via)
        self.by_n[passage.n] = passage
        self._by_id[chunk.id] = passage
        return passage

    def add_all(self, chunks: Iterable[tuple[ChunkRecord, float]], via: str) -> list[Passage]:
        return [self.add(c, s, via) for c, s in chunks if not c.preview]

    def __len__(self) -> int:
        return len(self.by_n)

    def numbers(self) -> set[int]:
        return set(self.by_n)

    @staticmethod
    def render(passages: Iterable[Passage], limit: int | None = None) -> str:
        """One delimited block of quoted passages, at most `limit` characters: the last
        passage that fits is cut, and the block is still closed."""
        room = (limit or 10**9) - len(OPEN) - len(CLOSE) - 2
        parts: list[str] = []
        for p in passages:
            text = p.render()
            if len(text) + 2 > room:
                body = len(p.body) - (len(text) + 2 - room)
                if body >= MIN_CLIPPED_CHARS:
                    parts.append(p.render(max_chars=body))
                break
            parts.append(text)
            room -= len(text) + 2
        return "\n".join([OPEN, "\n\n".join(parts), CLOSE])

    def citations(self, numbers: list[int], text: str) -> list[Citation]:
        """Citations for the numbers an answer uses, each with the part of its passage
        that the sentences citing it talk about as the snippet."""
        out = []
        for n in numbers:
            p = self.by_n[n]
            out.append(Citation.of(n, p.chunk, _snippet(p.chunk, _citing(text, n)), p.score))
        return out

    def used(self) -> list[dict]:
        """What the trace reports as the evidence the model was shown."""
        return [
            {"n": p.n, "id": p.chunk.id, "section": p.chunk.section, "source": p.chunk.source,
             "via": p.via}
            for p in self.by_n.values()
        ]  # fmt: skip


def defuse(text: str) -> str:
    """A document's own `<passage>`/`</passages>` tags, made harmless: "‹/passages>"."""
    return _TAG.sub("‹\\1", text)


def _citing(text: str, n: int) -> str:
    """The lines of `text` that cite `[n]`."""
    mark = f"[{n}]"
    return "\n".join(line for line in text.splitlines() if mark in line)


def _snippet(chunk: ChunkRecord, citing: str) -> str:
    """The chunk's units that share most words with what cites them, in text order."""
    units = [u["raw"] for u in chunk.units] or [chunk.text]
    want = set(tokenize(citing))
    overlap = [(len(want & set(tokenize(u))), i) for i, u in enumerate(units)]
    best = sorted(i for o, i in sorted(overlap, key=lambda x: (-x[0], x[1]))[:SNIPPET_UNITS] if o)
    snippet = " … ".join(units[i] for i in (best or [0]))
    return shorten(snippet, SNIPPET_CHARS)
