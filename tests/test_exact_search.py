"""Exact in-memory dense search: same neighbours as Chroma, used only for small indexes,
and refreshed when the index changes in process.

Real embedding model and real embedded Chroma.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.index.vectors.exact import ExactSearch, VectorSnapshot
from assistant.service import Assistant
from tests.conftest import make_settings

QUESTIONS = [
    "Which Python framework fits an ML team deploying to AWS Lambda?",
    "Is GraphQL worth it for three endpoints?",
    "What does Temporal give you over BullMQ?",
]


def test_snapshot_search_finds_what_chroma_finds(corpus_assistant) -> None:
    store, embedder = corpus_assistant.store, corpus_assistant.embedder
    snapshot = store.snapshot(limit=10**6)
    assert snapshot is not None
    assert len(snapshot.chunk_ids) == store.count()
    exact = ExactSearch(snapshot)
    for question in QUESTIONS:
        vector = embedder.embed_one(question)
        ours, chroma = exact.query(vector, 8), store.query(vector, 8)
        assert [i for i, _ in ours] == [i for i, _ in chroma], question
        assert np.allclose([s for _, s in ours], [s for _, s in chroma], atol=1e-4)
        ours_u, chroma_u = exact.query_units(vector, 16), store.query_units(vector, 16)
        assert [(c, u) for c, u, _ in ours_u] == [(c, u) for c, u, _ in chroma_u], question


def test_a_large_index_is_left_to_chroma(corpus_assistant, model_cache, tmp_path) -> None:
    store = corpus_assistant.store
    assert store.snapshot(limit=store.count()) is None  # chunks alone fill it; units exceed

    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache, exact_search_max_vectors=0
    )
    on_chroma = Assistant(settings, embedder=corpus_assistant.embedder)
    on_chroma.ready()
    assert on_chroma.index().exact is None
    corpus_assistant.ready()
    assert corpus_assistant.index().exact is not None
    for question in QUESTIONS:
        a, b = on_chroma.ask(question), corpus_assistant.ask(question)
        assert a.answer == b.answer and a.citations == b.citations, question


def test_in_process_ingest_refreshes_the_snapshot(tmp_path, model_cache, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "queues.md").write_text(
        "# Queues\n\n## Zephyrqueue\n\nZephyrqueue keeps messages for seven days.\n",
        encoding="utf-8",
    )
    # Dense only: BM25 is reloaded anyway, so it would hide a stale vector snapshot.
    settings = make_settings(tmp_path / "data", model_cache, retriever="dense")
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest([docs])
    assert assistant.ask("How long does Zephyrqueue keep messages?").citations
    assert assistant.index().exact is not None

    (docs / "tracing.md").write_text(
        "# Tracing\n\n## Lumenspan\n\nLumenspan samples one request in a hundred.\n",
        encoding="utf-8",
    )
    assistant.ingest([docs])
    answer = assistant.ask("How many requests does Lumenspan sample?")
    assert not answer.refused, answer.answer
    assert answer.citations[0].source.endswith("tracing.md"), answer.citations


@pytest.mark.parametrize("k", [1, 3, 10])
def test_exact_search_orders_by_similarity_and_caps_k(k: int) -> None:
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(5, 4)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    snap = VectorSnapshot(
        chunk_ids=[f"c{i}" for i in range(5)],
        chunk_vecs=vecs,
        unit_chunks=["c0", "c0", "c1"],
        unit_index=np.array([0, 1, 0]),
        unit_vecs=vecs[:3],
    )
    query = vecs[2]
    hits = ExactSearch(snap).query(query, k)
    assert len(hits) == min(k, 5)
    assert hits[0] == ("c2", pytest.approx(1.0))
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True)
    units = ExactSearch(snap).query_units(query, k)
    assert units[0][:2] == ("c1", 0) and len(units) == min(k, 3)
