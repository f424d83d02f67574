"""Vector stores. Only Chroma is implemented; the base class is the seam."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.index.vectors.base import VectorStore

if TYPE_CHECKING:
    from assistant.settings import Settings

__all__ = ["VectorStore", "open_store"]


def open_store(settings: Settings, *, create: bool = True) -> VectorStore:
    from assistant.index.vectors.chroma import ChromaStore

    return ChromaStore(settings, create=create)
