"""The embedding model run by sentence-transformers (torch): exact, but ~7 s to import."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from assistant.embeddings.base import Embedder
from assistant.errors import ConfigError


class SentenceTransformerEmbedder(Embedder):
    name = "sentence-transformers"

    def __init__(self, model_path: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # load by path; never reach a hub
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise ConfigError(
                "sentence-transformers is not installed: pip install sentence-transformers"
            ) from exc
        if not os.path.isdir(model_path):
            raise ConfigError(f"embedding model folder not found: {model_path}")
        self.model = SentenceTransformer(model_path, device="cpu")
        self._dim = int(self.model.get_embedding_dimension())

    @property
    def dimension(self) -> int:
        return self._dim

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode(
            list(texts), batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
