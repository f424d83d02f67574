"""The ONNX export gives the same vectors as sentence-transformers (cosine > 0.999)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from assistant.embeddings.onnx import OnnxEmbedder
from assistant.settings import Settings

TEXTS = [
    "Which backend framework should a Python ML team pick for AWS Lambda?",
    "Fiber — Express-like API, fasthttp-based (NOT net/http-compatible).",
    "a",
    "Spring Boot + Virtual Threads is a very good default in 2026. " * 40,  # truncated at 256
]


@pytest.mark.slow
def test_onnx_matches_sentence_transformers(embedder) -> None:
    from assistant.embeddings.sentence_transformers import SentenceTransformerEmbedder

    reference = SentenceTransformerEmbedder(Settings().embedding_model).embed(TEXTS)
    got = embedder.embed(TEXTS)  # batched together: padding must not change vectors
    cosines = np.sum(reference * got, axis=1)
    assert cosines.min() > 0.999, cosines


def test_vectors_are_normalised_and_batch_independent(embedder) -> None:
    batch = embedder.embed(TEXTS)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    alone = np.stack([embedder.embed_one(t) for t in TEXTS])
    assert np.allclose(batch, alone, atol=1e-4)
    assert isinstance(embedder, OnnxEmbedder)


def test_query_path_never_imports_torch(corpus_assistant) -> None:
    """The CLI's speed depends on it: torch alone takes seconds to import."""
    s = corpus_assistant.settings
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant.service import Assistant\n"
        "from assistant.settings import Settings\n"
        f"a = Assistant(Settings(data_dir=Path({str(s.data_dir)!r}), "
        f"model_cache_dir=Path({str(s.models_dir)!r})))\n"
        "assert not a.ask('What is Hono?').refused\n"
        "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
