"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank or a convex mix.

Dense has two rankings: chunks, and chunks ranked by their best answer unit (a single
bullet matching the question lifts its whole list). Both count in the fusion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

import numpy as np

from assistant.lexical import LexicalIndex
from assistant.models import ChunkRecord, Hit
from assistant.store import VectorStore

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the constant from Cormack et al.; flattens the head of each ranking


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
        cache: RecordCache | None = None,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.fusion = fusion
        self.alpha = alpha
        self.candidates = candidates
        self.cache = cache if cache is not None else RecordCache()

    def retrieve(self, query: str, vector: np.ndarray, k: int, mode: Mode = "hybrid") -> list[Hit]:
        dense: list[tuple[str, float]] = []
        by_unit: dict[str, float] = {}  # chunk id → cosine of its best unit
        sparse: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self.store.query(vector, self.candidates)
            for chunk_id, _, sim in self.store.query_units(vector, 2 * self.candidates):
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
        # Only the winners are fetched whole (text, units and their vectors): a few
        # spare in case BM25 names a chunk the store no longer has (index out of step).
        ranked = sorted(fused, key=lambda i: -fused[i])[: k + 3]
        records = self.cache.get_many(ranked, self.store)
        order = [i for i in ranked if i in records][:k]
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
