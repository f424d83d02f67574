"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank or a convex mix.

Dense has two rankings: chunks, and chunks ranked by their best answer unit (a single
bullet matching the question lifts its whole list). Both count in the fusion.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from assistant.lexical import LexicalIndex
from assistant.models import ChunkRecord, Hit
from assistant.store import VectorStore

Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the constant from Cormack et al.; flattens the head of each ranking


class HybridRetriever:
    def __init__(
        self,
        store: VectorStore,
        lexical: LexicalIndex,
        *,
        fusion: Literal["rrf", "convex"] = "rrf",
        alpha: float = 0.5,
        candidates: int = 20,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.fusion = fusion
        self.alpha = alpha
        self.candidates = candidates

    def retrieve(self, query: str, vector: np.ndarray, k: int, mode: Mode = "hybrid") -> list[Hit]:
        dense: list[tuple[ChunkRecord, float]] = []
        by_unit: dict[str, float] = {}  # chunk id → cosine of its best unit
        sparse: list[tuple[str, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self.store.query(vector, self.candidates)
            for chunk_id, _, sim in self.store.query_units(vector, 2 * self.candidates):
                by_unit[chunk_id] = max(sim, by_unit.get(chunk_id, -1.0))
        if mode in ("hybrid", "bm25"):
            sparse = self.lexical.search(query, self.candidates)

        records = {rec.id: rec for rec, _ in dense}
        missing = [i for i in [*by_unit, *(i for i, _ in sparse)] if i not in records]
        for rec in self.store.get(list(dict.fromkeys(missing))):
            records[rec.id] = rec
        dense_score = {rec.id: s for rec, s in dense}
        for chunk_id, sim in by_unit.items():
            dense_score[chunk_id] = max(sim, dense_score.get(chunk_id, -1.0))
        sparse_score = dict(sparse)

        fused: dict[str, float] = {}
        if self.fusion == "rrf" or mode != "hybrid":
            unit_ranking = sorted(by_unit, key=lambda i: -by_unit[i])
            for ranking in ([r.id for r, _ in dense], unit_ranking, [i for i, _ in sparse]):
                for rank, id_ in enumerate(ranking):
                    fused[id_] = fused.get(id_, 0.0) + 1.0 / (RRF_K + rank + 1)
        else:
            top_sparse = max(sparse_score.values(), default=1.0) or 1.0
            for id_ in set(dense_score) | set(sparse_score):
                fused[id_] = self.alpha * dense_score.get(id_, 0.0) + (1 - self.alpha) * (
                    sparse_score.get(id_, 0.0) / top_sparse
                )
        order = sorted((i for i in fused if i in records), key=lambda i: -fused[i])[:k]
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
