"""The numbered passages an LLM has been shown: what its `[n]` markers may point at.

Every chunk the model sees (retrieved before it starts, or returned by a tool) gets one
number for the whole answer, so a marker means the same passage wherever it appears, and
the citation check knows exactly which numbers are real.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assistant.models import ChunkRecord, Citation
from assistant.text import tokenize

SNIPPET_CHARS = 320
SNIPPET_UNITS = 2


@dataclass
class Passage:
    n: int
    chunk: ChunkRecord
    score: float  # relevance to the question (unit score, or fused retrieval score)
    via: str  # how the model got it: "retrieved", "search", "read_section"

    def render(self) -> str:
        return f"[{self.n}] {self.chunk.section} ({self.chunk.source})\n{self.chunk.text.strip()}"


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
    def render(passages: Iterable[Passage]) -> str:
        return "\n\n".join(p.render() for p in passages)

    def citations(self, numbers: list[int], text: str) -> list[Citation]:
        """Citations for the numbers an answer uses, each with the part of its passage
        that the sentences citing it talk about as the snippet."""
        out = []
        for n in numbers:
            p = self.by_n[n]
            out.append(
                Citation(
                    n=n,
                    source=p.chunk.source,
                    title=p.chunk.title,
                    section=p.chunk.section,
                    snippet=_snippet(p.chunk, _citing(text, n)),
                    score=round(p.score, 4),
                )
            )
        return out

    def used(self) -> list[dict]:
        """What the trace reports as the evidence the model was shown."""
        return [
            {"n": p.n, "id": p.chunk.id, "section": p.chunk.section, "source": p.chunk.source,
             "via": p.via}
            for p in self.by_n.values()
        ]  # fmt: skip


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
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
    return snippet
