"""Embedders: pick one from settings. Heavy SDKs are imported only by the chosen one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.embeddings.base import Embedder

if TYPE_CHECKING:
    from assistant.settings import Settings

__all__ = ["Embedder", "get_embedder"]


def get_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "fake":
        from assistant.embeddings.fake import FakeEmbedder

        return FakeEmbedder()
    if settings.embedder == "sentence-transformers":
        from assistant.embeddings.sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.embedding_model)
    from assistant.embeddings.onnx import OnnxEmbedder

    return OnnxEmbedder(
        settings.embedding_model,
        cache_dir=settings.models_dir,
        threads=settings.onnx_threads,
        precision=settings.embedding_precision,
        pooled_units=settings.unit_vectors == "pooled",
        bulk=settings.bulk_encoder,
    )
