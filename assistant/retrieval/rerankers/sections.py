"""One place per section before repeats."""

from __future__ import annotations

from assistant.retrieval.rerankers.base import Candidates, Reranker


class OnePlacePerSection(Reranker):
    """Three "Tip" boxes of one manual page are one source: a section's second chunk
    waits until every other section had its place."""

    def rerank(self, candidates: Candidates) -> None:
        records = candidates.records
        seen: set[tuple[str, str]] = set()
        firsts, repeats = [], []
        for i in (i for i in candidates.order if i in records):
            key = (records[i].source, records[i].section)
            (repeats if key in seen and key[1] else firsts).append(i)
            seen.add(key)
        candidates.order = firsts + repeats
