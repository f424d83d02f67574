"""An in-process vector store with the same verbs as Chroma: deterministic, exact, never
persisted. For tests about logic (ingest plans, the documents API, the live index) that
need no real database; `STACKGUIDE_VECTOR_STORE=memory`.

Stores are shared per data directory and collection within a process, so an Assistant
and an ingest opened apart see one store, as they would with Chroma.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np

from assistant.embeddings.base import normalise
from assistant.index.vectors.base import VectorStore
from assistant.index.vectors.exact import ExactSearch, VectorSnapshot
from assistant.models import ChunkRecord
from assistant.settings import Settings

_STORES: dict[tuple[str, str], MemoryStore] = {}
_LOCK = threading.Lock()


def memory_store(settings: Settings) -> MemoryStore:
    key = (str(settings.data_dir.absolute()), settings.collection)
    with _LOCK:
        if key not in _STORES:
            _STORES[key] = MemoryStore()
        return _STORES[key]


class MemoryStore(VectorStore):
    def __init__(self) -> None:
        self.records: dict[str, ChunkRecord] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.meta: dict[str, str] = {}
        self.lock = threading.RLock()

    def upsert(self, records: Sequence[ChunkRecord], embeddings: np.ndarray) -> None:
        vecs = normalise(np.asarray(embeddings, dtype=np.float32))
        with self.lock:
            for rec, vec in zip(records, vecs, strict=True):
                self.records[rec.id] = rec
                self.vectors[rec.id] = vec

    def delete(self, ids: Sequence[str]) -> None:
        with self.lock:
            for i in ids:
                self.records.pop(i, None)
                self.vectors.pop(i, None)

    def prune_units(self, keep: set[str]) -> int:
        return 0  # units live inside their chunk's record: none can outlive it

    def _search(self) -> ExactSearch | None:
        snapshot = self.snapshot(limit=10**9)
        return ExactSearch(snapshot) if snapshot is not None else None

    def query_units(self, vector: np.ndarray, k: int) -> list[tuple[str, int, float]]:
        search = self._search()
        return search.query_units(vector, k) if search else []

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        search = self._search()
        return search.query(vector, k) if search else []

    def ids_by(self, field: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        with self.lock:
            for rec in self.records.values():
                out.setdefault(str(rec.to_metadata().get(field, "")), set()).add(rec.id)
        return out

    def get(self, ids: Sequence[str]) -> list[ChunkRecord]:
        with self.lock:
            return [self.records[i] for i in ids if i in self.records]

    def iter_records(self, batch: int = 1000) -> Iterator[ChunkRecord]:
        with self.lock:
            records = list(self.records.values())
        yield from records

    def count(self) -> int:
        return len(self.records)

    def snapshot(self, limit: int) -> VectorSnapshot | None:
        with self.lock:
            recs = list(self.records.values())
            units = [(r.id, i, v) for r in recs for i, v in enumerate(_unit_vecs(r))]
            if len(recs) + len(units) > limit or not recs:
                return None
            return VectorSnapshot(
                chunk_ids=[r.id for r in recs],
                chunk_vecs=np.stack([self.vectors[r.id] for r in recs]),
                unit_chunks=[c for c, _, _ in units],
                unit_index=np.array([i for _, i, _ in units], dtype=np.int32),
                unit_vecs=normalise(np.stack([v for _, _, v in units]))
                if units
                else np.zeros((0, self.vectors[recs[0].id].shape[0]), dtype=np.float32),
            )

    def state(self) -> dict[str, str]:
        with self.lock:
            return dict(self.meta)

    def set_state(self, **values: str) -> None:
        with self.lock:
            self.meta.update(values)

    def drop(self) -> None:
        with self.lock:
            self.records.clear()
            self.vectors.clear()
            self.meta.clear()


def _unit_vecs(rec: ChunkRecord) -> np.ndarray:
    return rec.unit_vecs if rec.unit_vecs is not None else np.zeros((0, 0), dtype=np.float32)
