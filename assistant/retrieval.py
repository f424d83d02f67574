"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank or a convex mix.

Dense has two rankings: chunks, and chunks ranked by their best answer unit (a single
bullet matching the question lifts its whole list). Both count in the fusion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

import numpy as np

from assistant.evidence import WARNING_TERMS, asks_caution, warns
from assistant.lexical import LexicalIndex
from assistant.models import ChunkRecord, Hit
from assistant.store import VectorStore
from assistant.store.exact import ExactSearch
from assistant.text import tokenize

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the constant from Cormack et al.; flattens the head of each ranking
W_COVER = 1.5  # weight of term coverage against the fused score scaled to 0..1
WARNING_POOL = 20  # warning sections looked at for a question asking about risks
MAX_DEDICATED = 3  # names in one question whose own sections are pulled into the top k


class RecordCache:
    """Chunk records by id (ids are content hashes, so an entry never goes stale)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.items: OrderedDict[str, ChunkRecord] = OrderedDict()
        self.lock = threading.Lock()

    def get_many(self, ids: list[str], store: VectorStore) -> dict[str, ChunkRecord]:
        with self.lock:
            found = {i: self.items[i] for i in ids if i in self.items}
        missing = [i for i in ids if i not in found]
        fetched = {r.id: r for r in store.get(missing)} if missing else {}
        with self.lock:
            for id_, rec in fetched.items():
                self.items[id_] = rec
            for id_ in found:
                self.items.move_to_end(id_)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return {**found, **fetched}


class HybridRetriever:
    def __init__(
        self,
        store: VectorStore,
        lexical: LexicalIndex,
        *,
        fusion: Literal["rrf", "convex"] = "rrf",
        alpha: float = 0.5,
        candidates: int = 20,
        cover: bool = True,
        cache: RecordCache | None = None,
        exact: ExactSearch | None = None,
    ) -> None:
        self.store = store
        self.dense = exact or store  # same verbs: query, query_units
        self.lexical = lexical
        self.fusion = fusion
        self.alpha = alpha
        self.candidates = candidates
        self.cover = cover
        self.cache = cache if cache is not None else RecordCache()

    def retrieve(
        self,
        query: str,
        vector: np.ndarray,
        k: int,
        mode: Mode = "hybrid",
        caution: bool | None = None,
        turn: str | None = None,
    ) -> list[Hit]:
        """The k best chunks; `caution` (does the question ask about risks?) defaults to
        what the query text itself says. `turn` is a follow-up's own words, when `query`
        is the question it was rewritten into."""
        dense: list[tuple[str, float]] = []
        by_unit: dict[str, float] = {}  # chunk id → cosine of its best unit
        sparse: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self.dense.query(vector, self.candidates)
            for chunk_id, _, sim in self.dense.query_units(vector, 2 * self.candidates):
                by_unit[chunk_id] = max(sim, by_unit.get(chunk_id, -1.0))
        if mode in ("hybrid", "bm25"):
            sparse = self.lexical.search(query, self.candidates)

        dense_score = dict(dense)
        for chunk_id, sim in by_unit.items():
            dense_score[chunk_id] = max(sim, dense_score.get(chunk_id, -1.0))
        sparse_score = dict(sparse)

        fused: dict[str, float] = {}
        if self.fusion == "rrf" or mode != "hybrid":
            unit_ranking = sorted(by_unit, key=lambda i: -by_unit[i])
            for ranking in ([i for i, _ in dense], unit_ranking, [i for i, _ in sparse]):
                for rank, id_ in enumerate(ranking):
                    fused[id_] = fused.get(id_, 0.0) + 1.0 / (RRF_K + rank + 1)
        else:
            top_sparse = max(sparse_score.values(), default=1.0) or 1.0
            for id_ in set(dense_score) | set(sparse_score):
                fused[id_] = self.alpha * dense_score.get(id_, 0.0) + (1 - self.alpha) * (
                    sparse_score.get(id_, 0.0) / top_sparse
                )
        covering = self.cover and mode == "hybrid"
        if covering and fused:
            # Among many documents, passages that share a couple of common words with the
            # question crowd out the one that names what it asks about: reward coverage.
            top = max(fused.values())
            coverage = self.lexical.coverage(query, list(fused))
            if turn and turn != query:
                # "And if we're all-in on Bun?" after an edge question: the passages that
                # cover the turn's own terms count as much as those covering the topic.
                own = self.lexical.coverage(turn, list(fused))
                coverage = {i: (c + own.get(i, 0.0)) / 2 for i, c in coverage.items()}
            fused = {i: s / top + W_COVER * coverage.get(i, 0.0) for i, s in fused.items()}
        # Only the winners are fetched whole (text, units and their vectors): a few
        # spare in case BM25 names a chunk the store no longer has (index out of step).
        ranked = sorted(fused, key=lambda i: -fused[i])[: (3 * k if covering else k + 3)]
        records = self.cache.get_many(ranked, self.store)
        # One place per section: three "Tip" boxes of one manual page are one source.
        seen: set[tuple[str, str]] = set()
        firsts, repeats = [], []
        for i in (i for i in ranked if i in records):
            key = (records[i].source, records[i].section)
            (repeats if key in seen and key[1] else firsts).append(i)
            seen.add(key)
        order = firsts + repeats
        if covering:
            order = _with_dedicated(order, records, query, self.lexical, k)
        order = order[:k]
        if caution is None:
            caution = asks_caution(query)
        if mode == "hybrid" and caution:
            # "Is it OK to skip validation?" shares few words with "No schema validation at
            # the edge (all errors surface as 500 later)": the nearest warning gets a place.
            warning = self._nearest_warning(vector)
            if warning is not None and warning not in order:
                records.update(self.cache.get_many([warning], self.store))
                fused.setdefault(warning, 0.0)
                order = [*order[: k - 1], warning]
        return [
            Hit(
                chunk=records[i],
                score=fused[i],
                dense=dense_score.get(i),
                bm25=sparse_score.get(i),
                rank=n,
            )
            for n, i in enumerate(order)
        ]

    def _nearest_warning(self, vector: np.ndarray) -> str | None:
        """The section that warns (anti-patterns, pitfalls) whose best unit is nearest."""
        found = [i for i, _ in self.lexical.search(WARNING_TERMS, WARNING_POOL)]
        scored = [
            (float(np.max(rec.unit_vecs @ vector)), id_)
            for id_, rec in self.cache.get_many(found, self.store).items()
            if warns(rec.section) and rec.unit_vecs is not None and len(rec.unit_vecs)
        ]
        return max(scored)[1] if scored else None


def _with_dedicated(
    order: list[str], records: dict[str, ChunkRecord], query: str, lexical: LexicalIndex, k: int
) -> list[str]:
    """Make room in the top k for the section dedicated to each name the question asks
    about: "Should we use Fastify or NestJS?" needs the Fastify section, not only the
    chunks that name both."""
    from assistant.gate import question_names

    chosen, pulled = order[:k], set()
    for _, parts in question_names(query, lexical)[:MAX_DEDICATED]:
        if any(_dedicated_to(records[i], parts) for i in chosen):
            continue
        best = next((i for i in order[k:] if _dedicated_to(records[i], parts)), None)
        replaceable = [i for i in reversed(chosen) if i not in pulled]
        if best is None or not replaceable:
            continue
        chosen.remove(replaceable[0])
        chosen.append(best)
        pulled.add(best)
    return chosen


def _dedicated_to(record: ChunkRecord, parts: list[str]) -> bool:
    heading = record.section.rsplit("›", 1)[-1]
    return all(p in tokenize(heading) for p in parts)
