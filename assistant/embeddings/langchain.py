"""Our embedder as a LangChain `Embeddings`, for LangChain vector stores and agents."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from assistant.embeddings.base import Embedder


class LangChainEmbeddings(Embeddings):
    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_one(text).tolist()
