"""Vector stores behind one base (`base.py`): Chroma (`chroma.py`), and an in-process
fake (`memory.py`), picked by `settings.vector_store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.index.vectors.base import VectorStore

if TYPE_CHECKING:
    from assistant.settings import Settings

__all__ = ["VectorStore", "open_store"]


def open_store(settings: Settings, *, create: bool = True) -> VectorStore:
    if settings.vector_store == "memory":
        from assistant.index.vectors.memory import memory_store

        return memory_store(settings)
    from assistant.index.vectors.chroma import ChromaStore

    return ChromaStore(settings, create=create)
