"""What the agent's tools read: hybrid search, whole sections, the list of sources.

The service builds one per loaded index (its search is the service's own retrieval), so
the tools see exactly what answers see, preview sections excluded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.index.vectors import VectorStore
from assistant.models import ChunkRecord, Hit
from assistant.retrieval.hybrid import RecordCache
from assistant.text import SEP

Search = Callable[[str, int], list[Hit]]  # (query, k) → hits, best first


@dataclass
class Source:
    title: str
    sections: dict[str, list[str]] = field(default_factory=dict)  # heading path → chunk ids


class Corpus:
    def __init__(self, search: Search, store: VectorStore, cache: RecordCache) -> None:
        self._search = search
        self.store = store
        self.cache = cache
        self._outline: dict[str, Source] | None = None
        self._lock = threading.Lock()

    def search(self, query: str, k: int) -> list[Hit]:
        return [h for h in self._search(query, k) if not h.chunk.preview]

    def outline(self) -> dict[str, Source]:
        """Sources → sections → chunk ids in text order (built once per index)."""
        with self._lock:
            if self._outline is None:
                records = sorted(
                    (r for r in self.store.iter_records() if not r.preview),
                    key=lambda r: (r.source, r.order),
                )
                outline: dict[str, Source] = {}
                for r in records:
                    src = outline.setdefault(r.source, Source(r.title))
                    src.sections.setdefault(r.section, []).append(r.id)
                self._outline = outline
            return self._outline

    def section(self, heading: str, source: str | None = None) -> list[ChunkRecord]:
        """The chunks of a section and its subsections: `heading` is its path, or its
        last headings ("Fastify", "TypeScript backends › Hono"), case-insensitively."""
        want = [p.strip().lower() for p in heading.split(SEP.strip()) if p.strip()]
        if not want:
            return []
        ids: list[str] = []
        for name, src in self.outline().items():
            if source and source.lower() not in name.lower():
                continue
            for path, chunk_ids in src.sections.items():
                have = [p.strip().lower() for p in path.split(SEP)]
                if _contains(have, want):
                    ids += chunk_ids
        records = self.cache.get_many(ids, self.store)
        return [records[i] for i in ids if i in records]


def _contains(path: list[str], want: list[str]) -> bool:
    """`want` is a run of whole headings in `path` (a part's subsections count too), or a
    single heading's name without its number ("TypeScript backends" for "1. TypeScript…")."""
    n = len(want)
    for start in range(len(path) - n + 1):
        run = path[start : start + n]
        if run == want or all(_names(h, w) for h, w in zip(run, want, strict=True)):
            return True
    return False


def _names(heading: str, wanted: str) -> bool:
    plain = heading.split(". ", 1)[-1] if heading[:1].isdigit() else heading
    return wanted in (heading, plain) or plain.split(" — ")[0] == wanted
