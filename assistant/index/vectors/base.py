"""The vector store seam: Chroma today, anything with the same verbs tomorrow."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np

from assistant.index.vectors.exact import VectorSnapshot
from assistant.models import ChunkRecord


class VectorStore(ABC):
    @abstractmethod
    def upsert(self, records: Sequence[ChunkRecord], embeddings: np.ndarray) -> None: ...

    @abstractmethod
    def delete(self, ids: Sequence[str]) -> None:
        """Delete chunks and their units."""

    @abstractmethod
    def prune_units(self, keep: set[str]) -> int:
        """Delete units whose chunk is not in `keep` (left by an interrupted ingest)."""

    @abstractmethod
    def query_units(self, vector: np.ndarray, k: int) -> list[tuple[str, int, float]]:
        """The k nearest answer units: (chunk id, unit index, cosine)."""

    @abstractmethod
    def ids_by(self, field: str) -> dict[str, set[str]]:
        """Every stored chunk id, grouped by a metadata field ('origin', 'source')."""

    def ids_by_source(self) -> dict[str, set[str]]:
        return self.ids_by("source")

    @abstractmethod
    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ids of the k nearest chunks with their cosine similarity."""

    @abstractmethod
    def get(self, ids: Sequence[str]) -> list[ChunkRecord]: ...

    @abstractmethod
    def iter_records(self, batch: int = 1000) -> Iterator[ChunkRecord]: ...

    @abstractmethod
    def count(self) -> int: ...

    def snapshot(self, limit: int) -> VectorSnapshot | None:
        """Every chunk and unit vector, if there are at most `limit` in all (else None),
        for exact search in memory. Stores that cannot export their vectors say None."""
        return None

    @abstractmethod
    def state(self) -> dict[str, str]:
        """Small key/value state kept with the collection (generation, model), as stored
        now: another process may have changed it."""

    @abstractmethod
    def set_state(self, **values: str) -> None: ...

    @abstractmethod
    def drop(self) -> None:
        """Delete everything stored (chunks, units, state)."""

    def close(self) -> None:  # noqa: B027 (optional: most stores hold nothing)
        """Release what the handle holds (threads, files); the data stays."""

    def reopened(self) -> VectorStore:
        """A handle that sees what other processes wrote since this one was opened (an
        embedded store caches its index in memory); this one stays usable for reads in
        flight. Stores that always read through to a server return themselves."""
        return self
