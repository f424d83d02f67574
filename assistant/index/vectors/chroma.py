"""Chroma: embedded `PersistentClient` by default, a Chroma server when a URL is set.

Two collections: chunks, and their answer units (sentence-level vectors) so a question
can find the one bullet that answers it inside a long list ("small-to-big" retrieval).
Units are written before their chunk and deleted with it.

Chroma's own embedding function is never used (it would download a model): vectors
always come from our embedder, and the collection is created with none.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from urllib.parse import urlparse

import numpy as np

from assistant.errors import BackendUnavailable
from assistant.index.vectors.base import VectorStore
from assistant.index.vectors.exact import VectorSnapshot
from assistant.models import ChunkRecord
from assistant.settings import Settings

_STATE_PREFIX = "sg_"


def _check_alive(url: str, timeout: float) -> None:
    """A bounded heartbeat first: chromadb's own HTTP client waits forever by default."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=timeout):
            pass
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise BackendUnavailable(f"cannot reach the Chroma server at {url}: {exc}") from exc


def _matrix(rows) -> np.ndarray:
    from assistant.embeddings.base import normalise

    matrix = np.asarray(rows if rows is not None else [], dtype=np.float32)
    return normalise(matrix) if matrix.ndim == 2 and len(matrix) else matrix.reshape(0, 0)


def _bound_requests(client, timeout: float) -> None:
    """Give chromadb's httpx session a timeout (it has no setting for one)."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout)


class ChromaStore(VectorStore):
    def __init__(self, settings: Settings, *, create: bool = True) -> None:
        import os

        os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            _check_alive(settings.chroma_url, min(5.0, settings.chroma_timeout_s))
            try:
                self.client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
                _bound_requests(self.client, settings.chroma_timeout_s)
                self.client.heartbeat()
            except Exception as exc:  # chromadb raises several kinds here
                raise BackendUnavailable(
                    f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
                ) from exc
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(
                path=str(settings.chroma_dir), settings=chroma_settings
            )
        self.name = settings.collection
        self.collection = self._collection(self.name, create)
        self.units = self._collection(f"{self.name}-units", create)

    def _collection(self, name: str, create: bool):
        if create:
            return self.client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        return self.client.get_collection(name, embedding_function=None)

    def upsert(self, records: Sequence[ChunkRecord], embeddings: np.ndarray) -> None:
        ids, vecs, metas = [], [], []
        for rec in records:
            for i, vec in enumerate(rec.unit_vecs if rec.unit_vecs is not None else []):
                ids.append(f"{rec.id}:{i}")
                vecs.append(vec)
                metas.append({"chunk_id": rec.id, "unit": i})
        for start in range(0, len(ids), 2000):
            self.units.upsert(
                ids=ids[start : start + 2000],
                embeddings=np.asarray(vecs[start : start + 2000]),
                metadatas=metas[start : start + 2000],
            )
        for start in range(0, len(records), 500):
            part = records[start : start + 500]
            self.collection.upsert(
                ids=[r.id for r in part],
                embeddings=embeddings[start : start + 500],
                documents=[r.text for r in part],
                metadatas=[r.to_metadata() for r in part],
            )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            self.units.delete(where={"chunk_id": {"$in": part}})
            self.collection.delete(ids=part)

    def prune_units(self, keep: set[str]) -> int:
        total = self.units.count()
        orphans: list[str] = []
        for offset in range(0, total, 5000):
            got = self.units.get(include=["metadatas"], limit=5000, offset=offset)
            for id_, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                if (meta or {}).get("chunk_id") not in keep:
                    orphans.append(id_)
        for start in range(0, len(orphans), 500):
            self.units.delete(ids=orphans[start : start + 500])
        return len(orphans)

    def query_units(self, vector: np.ndarray, k: int) -> list[tuple[str, int, float]]:
        res = self.units.query(
            query_embeddings=[vector.tolist()], n_results=k, include=["metadatas", "distances"]
        )
        return [
            (str(m["chunk_id"]), int(m["unit"]), 1.0 - float(d))
            for m, d in zip(res["metadatas"][0], res["distances"][0], strict=True)
        ]

    def ids_by(self, field: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        total = self.collection.count()
        for offset in range(0, total, 5000):
            got = self.collection.get(include=["metadatas"], limit=5000, offset=offset)
            for id_, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                out.setdefault(str((meta or {}).get(field, "")), set()).add(id_)
        return out

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        res = self.collection.query(
            query_embeddings=[vector.tolist()], n_results=k, include=["distances"]
        )
        return [
            (i, 1.0 - float(d)) for i, d in zip(res["ids"][0], res["distances"][0], strict=True)
        ]

    def get(self, ids: Sequence[str]) -> list[ChunkRecord]:
        if not ids:
            return []
        res = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: ChunkRecord.from_store(i, d or "", m or {})
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]

    def iter_records(self, batch: int = 1000) -> Iterator[ChunkRecord]:
        total = self.collection.count()
        for offset in range(0, total, batch):
            res = self.collection.get(
                include=["documents", "metadatas"], limit=batch, offset=offset
            )
            for i, d, m in zip(res["ids"], res["documents"], res["metadatas"], strict=True):
                yield ChunkRecord.from_store(i, d or "", m or {})

    def count(self) -> int:
        return self.collection.count()

    def snapshot(self, limit: int) -> VectorSnapshot | None:
        if self.collection.count() + self.units.count() > limit:
            return None
        chunks = self.collection.get(include=["embeddings"])
        units = self.units.get(include=["embeddings", "metadatas"])
        metas = [m or {} for m in units["metadatas"] or []]
        return VectorSnapshot(
            chunk_ids=list(chunks["ids"]),
            chunk_vecs=_matrix(chunks["embeddings"]),
            unit_chunks=[str(m.get("chunk_id", "")) for m in metas],
            unit_index=np.array([int(m.get("unit", 0)) for m in metas], dtype=np.int32),
            unit_vecs=_matrix(units["embeddings"]),
        )

    def _metadata(self) -> dict:
        # Read again each time: the collection object keeps the metadata it was opened with.
        return dict(self.client.get_collection(self.name, embedding_function=None).metadata or {})

    def state(self) -> dict[str, str]:
        meta = self._metadata()
        return {
            k[len(_STATE_PREFIX) :]: str(v) for k, v in meta.items() if k.startswith(_STATE_PREFIX)
        }

    def set_state(self, **values: str) -> None:
        meta = self._metadata()
        meta.update({_STATE_PREFIX + k: v for k, v in values.items()})
        self.collection.modify(metadata=meta)

    def drop(self) -> None:
        for name in (self.name, f"{self.name}-units"):
            with contextlib.suppress(Exception):  # absent already is fine
                self.client.delete_collection(name)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing twice, or a server gone: nothing held
            self.client.close()

    def reopened(self) -> ChromaStore:
        if self.settings.chroma_url:
            return self  # the server has one index: every read sees the latest write
        from chromadb.api.shared_system_client import SharedSystemClient

        # chromadb shares one client per folder within a process, and that client keeps
        # the index it loaded: forget it (without stopping it, for reads in flight) so
        # the next client loads what is on disk now.
        systems = SharedSystemClient._identifier_to_system
        systems.pop(getattr(self.client, "_identifier", str(self.settings.chroma_dir)), None)
        return ChromaStore(self.settings, create=False)
