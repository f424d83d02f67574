"""The in-process fakes behave like the backends they stand for, so tests about logic can
use them: the memory vector store (like Chroma), the function and quoting generators (like
an LLM), and, on top of them, rules of the service that need neither Chroma nor a model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.generators.base import Draft, Evidence
from assistant.generators.fake import FunctionGenerator, QuotingGenerator
from assistant.index.vectors import open_store
from assistant.index.vectors.memory import MemoryStore
from assistant.models import ChunkRecord
from assistant.service import Assistant
from assistant.settings import Settings

NOTES = """# Queue notes

## Zephyrqueue

Zephyrqueue keeps messages for seven days and replays them in order.

## Lumenspan

Lumenspan samples one request in a hundred for tracing.
"""


def record(i: str, text: str, units: int = 1) -> ChunkRecord:
    vecs = np.eye(4, dtype=np.float32)[:units] if units else None
    return ChunkRecord(id=i, text=text, source="a.md", title="A", section="S", origin="/a.md",
                       units=[{"text": text, "raw": text}] * units, unit_vecs=vecs)  # fmt: skip


# -- the memory store ---------------------------------------------------------------------------


def test_the_memory_store_has_chromas_verbs() -> None:
    store = MemoryStore()
    store.upsert([record("c1", "one"), record("c2", "two", units=2)],
                 np.array([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=np.float32))  # fmt: skip
    assert store.count() == 2
    assert [i for i, _ in store.query(np.array([0, 1, 0, 0], dtype=np.float32), 1)] == ["c2"]
    assert store.query_units(np.array([0, 1, 0, 0], dtype=np.float32), 1)[0][:2] == ("c2", 1)
    assert {r.id for r in store.get(["c2", "missing"])} == {"c2"}
    assert store.ids_by("origin") == {"/a.md": {"c1", "c2"}}
    snap = store.snapshot(limit=100)
    assert snap is not None and snap.chunk_vecs.shape == (2, 4) and len(snap.unit_chunks) == 3
    assert store.snapshot(limit=4) is None  # 2 chunks + 3 units is over the limit
    store.set_state(generation="g1")
    assert store.state() == {"generation": "g1"}
    store.delete(["c1"])
    assert [r.id for r in store.iter_records()] == ["c2"]
    store.drop()
    assert store.count() == 0 and store.state() == {}


def test_memory_stores_are_one_per_data_dir_and_collection(tmp_path: Path) -> None:
    a = Settings(data_dir=tmp_path / "a", vector_store="memory")
    assert open_store(a) is open_store(Settings(data_dir=tmp_path / "a", vector_store="memory"))
    assert open_store(a) is not open_store(Settings(data_dir=tmp_path / "b", vector_store="memory"))


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    """No Chroma, no model: the memory store and the hashing embedder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text(NOTES)
    return Settings(data_dir=tmp_path / "data", corpus_dir=docs, vector_store="memory",
                    embedder="fake")  # fmt: skip


def test_an_ingest_into_the_memory_store_is_incremental(offline: Settings) -> None:
    assistant = Assistant(offline)
    first = assistant.ingest()
    assert first.ok and first.added == first.chunks_total > 0
    again = assistant.ingest()
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assistant.reset_index()
    assert assistant.store.count() == 0


# -- the generators -----------------------------------------------------------------------------


def test_the_gate_decides_before_any_generator_is_asked(offline: Settings) -> None:
    generator = FunctionGenerator(lambda evidence: "never used [1]")
    assistant = Assistant(offline, generator=generator)
    answer = assistant.ask("What is the capital of France?")
    assert answer.refused and generator.calls == []


def test_a_function_generator_answers_with_what_it_returns(offline: Settings) -> None:
    def cite_best(evidence: Evidence) -> Draft:
        best = evidence.units[0]
        citation = [QuotingGenerator()._quote(evidence).citations[0]]
        return Draft(f"From the notes: {best.raw} [1]", citation)

    generator = FunctionGenerator(cite_best)
    answer = Assistant(offline, generator=generator).ask("How long does Zephyrqueue keep messages?")
    assert not answer.refused
    assert answer.answer.startswith("From the notes: Zephyrqueue keeps messages for seven days")
    assert [c.section for c in answer.citations] == ["Zephyrqueue"]
    assert len(generator.calls) == 1 and generator.calls[0].units


def test_a_refusing_generator_gives_the_refusal(offline: Settings) -> None:
    generator = FunctionGenerator(lambda evidence: Draft("", refused=True))
    answer = Assistant(offline, generator=generator).ask("How long does Zephyrqueue keep messages?")
    assert answer.refused and answer.citations == []
    assert answer.answer.startswith("The corpus doesn't cover")


def test_a_streaming_generator_streams_its_words_then_the_checked_answer(offline) -> None:
    assistant = Assistant(offline, generator=QuotingGenerator(n=1, streams=True))
    events = list(assistant.stream("How many requests does Lumenspan sample?"))
    kinds = [k for k, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done" and kinds.count("delta") > 3
    done = events[-1][1]
    streamed = "".join(d for k, d in events if k == "delta")
    assert done["answer"] == streamed and done["replaced"] is False
    assert "samples one request in a hundred for tracing. [1]" in streamed
