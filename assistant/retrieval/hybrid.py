"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank or a convex mix.

Dense has two rankings: chunks, and chunks ranked by their best answer unit (a single
bullet matching the question lifts its whole list). Both count in the fusion; the fused
results then go through a chain of `rerankers` steps.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

import numpy as np

from assistant.index.lexical import LexicalIndex
from assistant.index.vectors import VectorStore
from assistant.index.vectors.exact import ExactSearch
from assistant.models import ChunkRecord, Hit
from assistant.query.intent import asks_caution
from assistant.retrieval.rerankers import (
    Candidates,
    CoverageRerank,
    NamedOptionSections,
    OnePlacePerSection,
    Reranker,
    RestOfSection,
    TopK,
    WarningSection,
)
from assistant.settings import Retriever

Mode = Retriever
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
        if caution is None:
            caution = asks_caution(query)
        candidates = Candidates(
            query, vector, k, fused, turn=turn, caution=caution,
            fetch=lambda ids: self.cache.get_many(ids, self.store),
        )  # fmt: skip
        steps = self._steps(mode, covering)
        for step in (s for s in steps if not s.needs_records):
            step.rerank(candidates)
        # Only the winners are fetched whole (text, units and their vectors): a few spare
        # in case BM25 names a chunk the store no longer has (index out of step).
        ranked = sorted(candidates.fused, key=lambda i: -candidates.fused[i])
        ranked = ranked[: (3 * k if covering else k + 3)]
        candidates.fetched(ranked)
        candidates.order = [i for i in ranked if i in candidates.records]
        for step in (s for s in steps if s.needs_records):
            step.rerank(candidates)
        records, fused = candidates.records, candidates.fused
        return [
            Hit(
                chunk=records[i],
                score=fused[i],
                dense=dense_score.get(i),
                bm25=sparse_score.get(i),
                rank=n,
                context=n >= k,
            )
            for n, i in enumerate(candidates.order)
        ]

    def _steps(self, mode: Mode, covering: bool) -> list[Reranker]:
        """The reranking chain: coverage on the fused scores, then the fetched chunks'
        order (sections, named options, the k best, a warning for a question on risks),
        then the rest of the best chunk's section."""
        lexical = self.lexical
        return [
            *([CoverageRerank(lexical)] if covering else []),
            OnePlacePerSection(),
            *([NamedOptionSections(lexical)] if covering else []),
            TopK(),
            *([WarningSection(lexical)] if mode == "hybrid" else []),
            *([RestOfSection(lexical)] if covering else []),
        ]
