"""One base class for embedders: subclasses implement `_embed_batch`, the base batches."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Passage:
    """A text to embed whole, with spans of it (answer units) that need vectors too.

    `spans` are character ranges of `text`; `span_texts` are what each span reads as on
    its own, for embedders that embed spans separately rather than pool them.
    """

    text: str
    spans: tuple[tuple[int, int], ...] = ()
    span_texts: tuple[str, ...] = ()


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors (cosine = dot product)."""

    name: str = "embedder"
    batch_size: int = 32

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @abstractmethod
    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed at most `batch_size` texts; return normalised rows."""

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Sorting by length keeps padding (and so time) down within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        batches = [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]
        rows = self._map_batches(lambda idx: self._embed_batch([texts[i] for i in idx]), batches)
        for idx, vectors in zip(batches, rows, strict=True):
            out[idx] = vectors
            if progress:
                progress(len(idx))
        return out

    def _map_batches(self, fn: Callable[[T], R], batches: Sequence[T]) -> Iterator[R]:
        """`fn` over the batches, results in order; an embedder may run them in parallel."""
        return map(fn, batches)

    def prepare(self) -> None:
        """Begin, without waiting, what the first `embed` needs (a model to open), so that
        it overlaps the caller's other work; nothing here."""
        return None

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def embed_passages(self, passages: Sequence[Passage]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Each passage's vector, and the vectors of its spans (one row per span).

        Here each span is embedded as its own text; an embedder that sees token states
        pools the spans from the passage's own pass instead (one pass, not two).
        """
        vectors = self.embed([p.text for p in passages])
        flat = self.embed([t for p in passages for t in p.span_texts])
        cuts = np.cumsum([len(p.span_texts) for p in passages])[:-1]
        return vectors, list(np.split(flat, cuts)) if passages else []


def normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return (rows / np.maximum(norms, 1e-12)).astype(np.float32)
