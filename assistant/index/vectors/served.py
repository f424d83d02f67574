"""One generation of a small index as plain files, read without the vector store.

An ingest that commits an index small enough for exact search also writes what a
question reads from the store (every chunk record and vector, and the store's state)
into the generation's folder beside BM25. A fresh process then answers from those files
and numpy alone: opening Chroma (its import and client) costs more than the whole
answer. The files belong to their generation, written with it and dropped with it, so
they can never disagree with the BM25 index they sit beside; writes still go to the
store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from assistant.errors import Unsupported
from assistant.index.vectors.base import VectorStore
from assistant.index.vectors.exact import ExactSearch, VectorSnapshot
from assistant.models import ChunkRecord

RECORDS = "served.json"
VECTORS = "served.npz"


class ServedIndex(VectorStore):
    """A read-only store over one generation's files."""

    def __init__(
        self, records: list[ChunkRecord], snapshot: VectorSnapshot, state: dict[str, str]
    ) -> None:
        self.records = {r.id: r for r in records}
        self._snapshot = snapshot
        self._exact = ExactSearch(snapshot)
        self._state = dict(state)

    # -- writing and reading the files ------------------------------------------------------
    @staticmethod
    def capture(store: VectorStore, limit: int, **state: str) -> ServedIndex | None:
        """What `store` holds now, with its state updated by `state`, if it is small
        enough for exact search (else None)."""
        snapshot = store.snapshot(limit)
        if snapshot is None:
            return None
        return ServedIndex(list(store.iter_records()), snapshot, store.state() | state)

    def save(self, folder: Path) -> None:
        """Write into `folder` (the generation's folder being assembled)."""
        snap, records = self._snapshot, list(self.records.values())
        dim = snap.chunk_vecs.shape[1] if snap.chunk_vecs.ndim == 2 else 0
        units = [r.unit_vecs if r.unit_vecs is not None else np.zeros((0, dim)) for r in records]
        with open(folder / VECTORS, "wb") as out:
            np.savez(
                out,
                chunk_vecs=snap.chunk_vecs,
                unit_vecs=snap.unit_vecs,
                unit_index=snap.unit_index,
                # The records' own unit vectors, as the store keeps them (float16).
                record_units=np.concatenate(units).astype(np.float16) if units else np.zeros(0),
            )
        meta = [r.to_metadata() for r in records]
        for m in meta:
            m.pop("unit_vecs")
        doc = {
            "state": self._state,
            "chunk_ids": snap.chunk_ids,
            "unit_chunks": snap.unit_chunks,
            "records": [
                {"id": r.id, "text": r.text, "meta": m} for r, m in zip(records, meta, strict=True)
            ],
            "unit_counts": [len(u) for u in units],
        }
        (folder / RECORDS).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ServedIndex | None:
        """The index in `folder`, or None when it has none (too big, or an older one)."""
        try:
            doc = json.loads((folder / RECORDS).read_text(encoding="utf-8"))
            with np.load(folder / VECTORS) as arrays:
                chunk_vecs, unit_vecs = arrays["chunk_vecs"], arrays["unit_vecs"]
                unit_index, record_units = arrays["unit_index"], arrays["record_units"]
        except (OSError, ValueError, KeyError):
            return None
        dim = chunk_vecs.shape[1] if chunk_vecs.ndim == 2 else 0
        records, at = [], 0
        for item, n in zip(doc["records"], doc["unit_counts"], strict=True):
            rec = ChunkRecord.from_store(item["id"], item["text"], {**item["meta"], "unit_dim": 0})
            if dim and n:
                rec.unit_vecs = record_units[at : at + n].reshape(n, dim).astype(np.float32)
            at += n
            records.append(rec)
        snapshot = VectorSnapshot(
            chunk_ids=doc["chunk_ids"],
            chunk_vecs=chunk_vecs,
            unit_chunks=doc["unit_chunks"],
            unit_index=unit_index,
            unit_vecs=unit_vecs,
        )
        return cls(records, snapshot, doc["state"])

    # -- reading ----------------------------------------------------------------------------
    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        return self._exact.query(vector, k)

    def query_units(self, vector: np.ndarray, k: int) -> list[tuple[str, int, float]]:
        return self._exact.query_units(vector, k)

    def get(self, ids: Sequence[str]) -> list[ChunkRecord]:
        return [self.records[i] for i in ids if i in self.records]

    def iter_records(self, batch: int = 1000) -> Iterator[ChunkRecord]:
        return iter(list(self.records.values()))

    def ids_by(self, field: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for rec in self.records.values():
            out.setdefault(str(getattr(rec, field, "")), set()).add(rec.id)
        return out

    def count(self) -> int:
        return len(self.records)

    def snapshot(self, limit: int) -> VectorSnapshot | None:
        n = len(self._snapshot.chunk_ids) + len(self._snapshot.unit_chunks)
        return self._snapshot if n <= limit else None

    def state(self) -> dict[str, str]:
        return dict(self._state)

    # -- writing: not here ------------------------------------------------------------------
    def _read_only(self, *_args, **_kwargs):
        raise Unsupported("the served copy of the index is read-only: write to the store")

    upsert = delete = prune_units = set_state = drop = _read_only  # type: ignore[assignment]
