"""A small index is also kept as plain files beside its BM25, and a fresh process answers
from them without opening the vector store (or importing what only writing needs)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from assistant.errors import Unsupported
from assistant.index.lexical import LexicalIndex
from assistant.index.vectors.memory import MemoryStore
from assistant.index.vectors.served import RECORDS, VECTORS, ServedIndex
from assistant.models import ChunkRecord
from assistant.service import Assistant
from tests.conftest import make_settings


def _record(n: int, units: int) -> ChunkRecord:
    rng = np.random.default_rng(n)
    vecs = rng.normal(size=(units, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return ChunkRecord(
        id=f"c{n}",
        text=f"Chunk {n} — ünïcode text",
        source=f"docs/{n}.md",
        title=f"Doc {n}",
        section=f"Part {n}",
        order=n,
        units=[
            {"text": f"unit {n}.{i}", "raw": f"unit {n}.{i}", "kind": "sentence"}
            for i in range(units)
        ],
        unit_vecs=vecs,
        origin=f"/corpus/{n}.md",
    )


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    records = [_record(n, units=n % 3) for n in range(5)]  # one chunk has no units
    rng = np.random.default_rng(99)
    store.upsert(records, rng.normal(size=(5, 8)).astype(np.float32))
    store.set_state(format="5", model="m:8", generation="g1")
    return store


def test_files_give_back_what_the_store_holds(store, tmp_path) -> None:
    served = ServedIndex.capture(store, limit=100, generation="g2")
    assert served is not None
    served.save(tmp_path)
    loaded = ServedIndex.load(tmp_path)
    assert loaded is not None
    assert loaded.state() == {"format": "5", "model": "m:8", "generation": "g2"}
    assert loaded.count() == store.count() == 5
    for want in store.iter_records():
        [got] = loaded.get([want.id])
        assert (got.text, got.source, got.section, got.units, got.origin) == (
            want.text, want.source, want.section, want.units, want.origin)  # fmt: skip
        if want.unit_vecs is None or not len(want.unit_vecs):
            assert got.unit_vecs is None or not len(got.unit_vecs)
        else:  # as the store keeps them for scoring: float16
            assert np.array_equal(
                got.unit_vecs, want.unit_vecs.astype(np.float16).astype(np.float32)
            )
    query = np.ones(8, dtype=np.float32) / np.sqrt(8)
    assert loaded.query(query, 3) == store.query(query, 3)
    assert loaded.query_units(query, 4) == store.query_units(query, 4)
    assert loaded.ids_by("origin") == store.ids_by("origin")


def test_an_index_too_big_for_exact_search_is_not_kept_as_files(store) -> None:
    assert ServedIndex.capture(store, limit=3) is None


def test_the_served_copy_is_read_only(store, tmp_path) -> None:
    served = ServedIndex.capture(store, limit=100)
    with pytest.raises(Unsupported):
        served.upsert([], np.zeros((0, 8)))
    with pytest.raises(Unsupported):
        served.set_state(generation="x")


def test_missing_or_broken_files_are_no_served_index(store, tmp_path) -> None:
    assert ServedIndex.load(tmp_path) is None
    ServedIndex.capture(store, limit=100).save(tmp_path)
    (tmp_path / VECTORS).write_bytes(b"not numpy")
    assert ServedIndex.load(tmp_path) is None


def test_ingest_writes_them_with_the_generation(settings, embedder) -> None:
    assistant = Assistant(settings, embedder=embedder)
    assistant.ingest()
    generation = LexicalIndex.current_generation(settings.lexical_dir)
    folder = settings.lexical_dir / generation
    assert (folder / RECORDS).is_file() and (folder / VECTORS).is_file()
    served = ServedIndex.load(folder)
    assert served.state()["generation"] == generation == assistant.store.state()["generation"]
    assert served.count() == assistant.store.count()


def test_a_fresh_process_answers_from_the_files_alone(corpus_assistant) -> None:
    """Same answer as over Chroma, with neither chromadb, scipy nor wordfreq imported:
    those imports alone cost more than the rest of a cold answer."""
    s = corpus_assistant.settings
    question = "Which framework should a Python ML team deploying to AWS Lambda pick?"
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from assistant.service import Assistant\n"
        "from assistant.settings import Settings\n"
        f"a = Assistant(Settings(data_dir=Path({str(s.data_dir)!r}), "
        f"model_cache_dir=Path({str(s.models_dir)!r})))\n"
        f"answer = a.ask({question!r})\n"
        "loaded = [m for m in ('chromadb', 'scipy', 'wordfreq') if m in sys.modules]\n"
        "print(json.dumps({'answer': answer.answer, 'loaded': loaded}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    over_store = Assistant(corpus_assistant.settings, store=corpus_assistant.store,
                           embedder=corpus_assistant.embedder)  # fmt: skip
    assert got["answer"] == over_store.ask(question).answer


def test_a_handed_in_or_server_store_is_read_where_it_is(tmp_path, model_cache, embedder):
    """Files are for an embedded store this process opened: a store handed in (tests,
    tools) or a Chroma server is the truth, read directly."""
    settings = make_settings(tmp_path / "d", model_cache)
    Assistant(settings, embedder=embedder).ingest()
    own = Assistant(settings, embedder=embedder)
    assert isinstance(own.index().store, ServedIndex)
    store = MemoryStore()
    handed = Assistant(settings, store=store, embedder=embedder)
    assert handed._served() is None
    remote = make_settings(tmp_path / "d", model_cache, chroma_url="http://127.0.0.1:9")
    assert Assistant(remote, embedder=embedder)._served() is None
