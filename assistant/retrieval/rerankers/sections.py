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


SIBLINGS = 2  # chunks of the best section read beside it, past the k best


class RestOfSection(Reranker):
    """A long section is cut into chunks; the answer is often in the part after the one
    that matched best (a list of defaults, then the sentence saying what the option
    does). The best chunk's neighbours in its section, when among the candidates, are
    read too: after the k best, so they add units without taking a place."""

    def rerank(self, candidates: Candidates) -> None:
        if not candidates.order:
            return
        records = candidates.records
        best = records[candidates.order[0]]
        if not best.section:
            return
        taken = set(candidates.order)
        near = sorted(
            (abs(r.order - best.order), i)
            for i, r in records.items()
            if i not in taken
            and r.source == best.source
            and r.section == best.section
            and 0 < abs(r.order - best.order) <= SIBLINGS
        )
        candidates.order += [i for _, i in near[:SIBLINGS]]
