"""Exact dense search over an in-memory snapshot of a small index.

For a few thousand vectors one matrix product is both exact and far cheaper than two
HNSW queries through Chroma's bindings (or two round trips to a Chroma server). The
snapshot is taken when the index is loaded, like the BM25 index, and dropped with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VectorSnapshot:
    chunk_ids: list[str]
    chunk_vecs: np.ndarray  # (n, dim), unit length
    unit_chunks: list[str]  # chunk id of each unit row
    unit_index: np.ndarray  # position of each unit in its chunk
    unit_vecs: np.ndarray  # (m, dim), unit length


class ExactSearch:
    """The store's `query` / `query_units`, answered from a snapshot."""

    def __init__(self, snapshot: VectorSnapshot) -> None:
        self.snapshot = snapshot

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        snap = self.snapshot
        return [(snap.chunk_ids[i], s) for i, s in _top(snap.chunk_vecs, vector, k)]

    def query_units(self, vector: np.ndarray, k: int) -> list[tuple[str, int, float]]:
        snap = self.snapshot
        return [
            (snap.unit_chunks[i], int(snap.unit_index[i]), s)
            for i, s in _top(snap.unit_vecs, vector, k)
        ]


def _top(matrix: np.ndarray, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    if not len(matrix) or k <= 0:
        return []
    sims = matrix @ np.asarray(vector, dtype=np.float32)
    k = min(k, len(sims))
    head = np.argpartition(-sims, k - 1)[:k]
    head = head[np.argsort(-sims[head], kind="stable")]
    return [(int(i), float(sims[i])) for i in head]
