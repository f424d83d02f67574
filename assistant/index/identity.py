"""What an index was made by: the format of what is stored per chunk, and the model (and
way) its vectors were made with. Both the writer and every reader check them."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import Settings

# Bump when what is stored per chunk changes: an index of another format is re-embedded.
INDEX_FORMAT = "7"


def model_identity(settings: Settings, dimension: int) -> str:
    """Vectors from different models (or graphs, or ways of pooling units) must never
    share a collection."""
    if settings.embedder == "fake":
        return f"fake:{dimension}"
    name = f"{Path(settings.embedding_model).name}:{dimension}"
    if settings.embedder == "onnx":
        return f"{name}:{settings.embedding_precision}:{settings.unit_vectors}"
    return name
