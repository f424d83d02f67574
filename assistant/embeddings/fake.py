"""A deterministic hashing embedder for fast unit tests (never for real answers)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from assistant.embeddings.base import Embedder, normalise
from assistant.text import tokenize


class FakeEmbedder(Embedder):
    """Bag of hashed tokens: texts sharing words get similar vectors."""

    name = "fake"

    def __init__(self, dimension: int = 64) -> None:
        self._dim = dimension

    @property
    def dimension(self) -> int:
        return self._dim

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), self._dim), dtype=np.float32)
        for r, text in enumerate(texts):
            for tok in tokenize(text) or ["<empty>"]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=4).digest(), "big")
                rows[r, h % self._dim] += 1.0
        return normalise(rows)
