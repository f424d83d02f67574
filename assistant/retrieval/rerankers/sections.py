"""One place per section before repeats."""

from __future__ import annotations

from assistant.index.lexical import LexicalIndex
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


SIBLINGS = 2  # chunks of the best section read beside it, past the k best
NEIGHBOURS_OF = 2  # the best hits whose section's next and previous chunks are read too


class RestOfSection(Reranker):
    """A long section is cut into chunks; the answer is often in the part before or after
    the one that matched ("If the error statusCode is less than 400, …" one chunk up from
    the one naming the handler). The best chunk's neighbours in its section among the
    candidates, and the chunks either side of each of the best hits in their section,
    fetched even when retrieval did not rank them, are read too: after the k best, so
    they add units without taking a place."""

    def __init__(self, lexical: LexicalIndex | None = None) -> None:
        self.lexical = lexical

    def rerank(self, candidates: Candidates) -> None:
        if not candidates.order:
            return
        records = candidates.records
        best = records[candidates.order[0]]
        taken = set(candidates.order)
        added: list[str] = []
        if best.section:
            near = sorted(
                (abs(r.order - best.order), i)
                for i, r in records.items()
                if i not in taken
                and r.source == best.source
                and r.section == best.section
                and 0 < abs(r.order - best.order) <= SIBLINGS
            )
            added += [i for _, i in near[:SIBLINGS]]
        if self.lexical is not None:
            for hit in [records[i] for i in candidates.order[:NEIGHBOURS_OF]]:
                if not hit.section:
                    continue
                for order in (hit.order - 1, hit.order + 1):
                    id_ = self.lexical.chunk_at(hit.source, hit.section, order)
                    if id_ is not None and id_ not in taken and id_ not in added:
                        added.append(id_)
        fetched = candidates.fetched(added)
        for i in added:
            candidates.fused.setdefault(i, 0.0)  # read beside the hits, not ranked
        candidates.order += [i for i in added if i in fetched]
