"""Ingest end to end on generated Markdown: chunk metadata and ids, idempotent and
incremental re-ingest, bad files among good ones (API and CLI), convergence after a
killed ingest, and an answer citing what was ingested.

Real embedding model, real embedded Chroma, every index under tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import IngestError
from assistant.index.lexical import LexicalIndex
from assistant.index.vectors import open_store
from assistant.service import Assistant
from assistant.text import SEP
from ingest.chunking import chunk_document
from ingest.loaders import load
from ingest.pipeline import discover, run_ingest
from tests.conftest import make_settings
from tests.helpers.docs import pdf_bytes, text_pdf, write_notes
from tests.helpers.index import ingest_in_child, snapshot

ALPHA = """---
title: Alpha Guide
author: Test Author
---

# Alpha Guide

## Queues

### Zephyrqueue

- Zephyrqueue is a durable message broker written in Rust.
- Zephyrqueue keeps messages for seven days.

### Brokerly

Brokerly keeps messages in memory. It loses them on restart.

## Caches

- Memcachoid stores session tokens for ten minutes.
"""

BETA = """# Beta Handbook

## Schedulers

### Quokkaflow

- Quokkaflow is a pipeline scheduler for nightly batch jobs.
- Quokkaflow retries failed jobs twice before paging someone.

## Storage

- Vaultly encrypts every backup with a rotating key.
"""

GAMMA = """# Gamma Notes

## Tracing

### Lumenspan

- Lumenspan samples one request in a hundred.
"""


class ExplodingEmbedder:
    """Stands in for the model where no embedding may happen: any use fails the test."""

    @property
    def dimension(self) -> int:
        raise AssertionError("the embedder was consulted: unchanged files must cost nothing")

    def embed(self, texts, progress=None):
        raise AssertionError(f"embed() called on {len(texts)} texts for unchanged files")

    def embed_one(self, text):
        raise AssertionError("embed_one() called during ingest")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "alpha.md").write_text(ALPHA, encoding="utf-8")
    (folder / "beta.md").write_text(BETA, encoding="utf-8")
    (folder / "sub" / "gamma.md").write_text(GAMMA, encoding="utf-8")
    return folder


def chunks_of(text: str, source: str, tmp_path: Path, settings, max_chars: int = 1000):
    path = tmp_path / "scratch" / Path(source).name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return chunk_document(load(path, source), max_chars, settings.prompts_dir).chunks


def texts_by_source(store) -> dict[str, str]:
    out: dict[str, str] = {}
    for rec in store.iter_records():
        out[rec.source] = out.get(rec.source, "") + "\n" + rec.text
    return out


# -- chunks: place, metadata, ids, size ------------------------------------------------


def test_chunks_carry_source_title_and_heading_path_without_h1(tmp_path, settings) -> None:
    chunks = chunks_of(ALPHA, "docs/alpha.md", tmp_path, settings)

    assert [c.section for c in chunks] == [
        f"Queues{SEP}Zephyrqueue",
        f"Queues{SEP}Brokerly",
        "Caches",
    ]
    assert {c.source for c in chunks} == {"docs/alpha.md"}
    assert {c.title for c in chunks} == {"Alpha Guide"}
    assert all("Alpha Guide" not in c.section for c in chunks), "the H1 is not in the path"
    assert [c.order for c in chunks] == [0, 1, 2]
    zephyr = chunks[0]
    assert zephyr.text == (
        "- Zephyrqueue is a durable message broker written in Rust.\n"
        "- Zephyrqueue keeps messages for seven days."
    )
    assert "Brokerly keeps messages in memory." in chunks[1].text
    assert "It loses them on restart." in chunks[1].text


def test_ingest_names_sources_relative_to_the_root_parent(docs, settings, embedder) -> None:
    report = run_ingest([docs], settings, embedder=embedder)
    store = open_store(settings)

    assert report.ok, report.failed
    assert set(store.ids_by_source()) == {"docs/alpha.md", "docs/beta.md", "docs/sub/gamma.md"}
    records = {r.section: r for r in store.iter_records()}
    quokka = records[f"Schedulers{SEP}Quokkaflow"]
    assert quokka.source == "docs/beta.md"
    assert quokka.title == "Beta Handbook"
    assert quokka.units and quokka.unit_vecs is not None
    assert quokka.unit_vecs.shape == (len(quokka.units), embedder.dimension)
    assert records[f"Tracing{SEP}Lumenspan"].source == "docs/sub/gamma.md"


def test_discover_names_a_single_file_relative_to_its_own_folder(docs) -> None:
    found = discover([docs / "beta.md"])
    assert [s for _, s in found.files] == ["beta.md"]
    assert found.skipped == []
    assert len(found.scopes) == 1


def test_discover_skips_hidden_files_and_reports_unsupported(docs) -> None:
    (docs / ".draft.md").write_text("# Hidden\n\n- Not ingested.\n")
    (docs / ".cache").mkdir()
    (docs / ".cache" / "x.md").write_text("# Hidden too\n")
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    found = discover([docs])
    assert [s for _, s in found.files] == ["docs/alpha.md", "docs/beta.md", "docs/sub/gamma.md"]
    assert found.skipped == ["docs/logo.png"]
    assert len(found.scopes) == 1


def test_missing_path_is_an_ingest_error(tmp_path, settings) -> None:
    with pytest.raises(IngestError, match="no such file"):
        run_ingest([tmp_path / "nope"], settings, embedder=ExplodingEmbedder())


def test_chunk_ids_are_stable_and_local_to_the_changed_section(tmp_path, settings) -> None:
    first = chunks_of(ALPHA, "docs/alpha.md", tmp_path, settings)
    again = chunks_of(ALPHA, "docs/alpha.md", tmp_path, settings)
    assert [c.id for c in first] == [c.id for c in again], "same text, same ids"
    assert len({c.id for c in first}) == len(first), "ids are unique within a document"

    edited = ALPHA.replace("ten minutes", "twenty minutes")
    changed = chunks_of(edited, "docs/alpha.md", tmp_path, settings)
    before = {c.section: c.id for c in first}
    after = {c.section: c.id for c in changed}
    assert after["Caches"] != before["Caches"], "the edited section gets a new id"
    for section in (f"Queues{SEP}Zephyrqueue", f"Queues{SEP}Brokerly"):
        assert after[section] == before[section], f"{section} did not change, nor may its id"

    other = chunks_of(ALPHA, "docs/other.md", tmp_path, settings)
    assert not {c.id for c in other} & set(before.values()), "ids depend on the source"


def test_long_section_is_split_between_sentences_and_bullets(tmp_path, settings) -> None:
    sentences = [
        f"Sentence number {i} explains one small fact about Zephyrqueue." for i in range(12)
    ]
    bullets = [f"- Bullet {i} lists one more Zephyrqueue option." for i in range(8)]
    body = "## Big\n\n" + " ".join(sentences) + "\n\n" + "\n".join(bullets) + "\n"
    max_chars = 200
    chunks = chunks_of(body, "docs/big.md", tmp_path, settings, max_chars=max_chars)

    assert len(chunks) >= 5, f"a ~1.3 kB section must be split at {max_chars} chars"
    assert {c.section for c in chunks} == {"Big"}
    pieces = [line for c in chunks for line in c.text.split("\n")]
    assert pieces == sentences + bullets, "every piece is one whole sentence or bullet, in order"
    for c in chunks:
        assert len(c.text) <= max_chars, f"chunk of {len(c.text)} chars: {c.text!r}"
        assert len(c.units) == len(c.text.split("\n"))
    assert len({c.id for c in chunks}) == len(chunks)


def test_a_chunk_passage_spans_each_unit_as_written(tmp_path, settings) -> None:
    """What is embedded is the chunk under its heading; each unit's span is its raw text
    there (a pooling embedder reads the unit's vector from those tokens)."""
    body = (
        "## Pools\n\nUndici keeps sockets alive. It pools them per origin.\n\n"
        "- `connections` caps them\n- **pipelining** is off by default\n\n"
        "| Option | Default |\n|---|---|\n| keepAliveTimeout | 4s |\n"
    )
    [chunk] = chunks_of(body, "docs/pools.md", tmp_path, settings)
    passage = chunk.passage
    assert passage.text == chunk.embed_text
    assert [passage.text[a:b] for a, b in passage.spans] == [u["raw"] for u in chunk.units]
    assert list(passage.span_texts) == [u["text"] for u in chunk.units]


def test_one_over_long_sentence_is_cut_at_words_as_a_last_resort(tmp_path, settings) -> None:
    words = " ".join(f"word{i}" for i in range(120))  # ~900 chars, no sentence end
    chunks = chunks_of(f"## Long\n\n{words}.\n", "docs/long.md", tmp_path, settings, 200)
    assert len(chunks) > 1
    assert all(len(c.text) <= 200 for c in chunks)
    assert " ".join(c.text for c in chunks) == f"{words}.", "no word is lost or broken"


def test_repeated_identical_sections_do_not_break_ingest(docs, settings, embedder) -> None:
    (docs / "faq.md").write_text(
        "# FAQ\n\n## Notes\n\n- Coming soon.\n\n## Queues\n\n- Use Zephyrqueue.\n\n"
        "## Notes\n\n- Coming soon.\n",
        encoding="utf-8",
    )
    chunks = chunks_of((docs / "faq.md").read_text(), "docs/faq.md", docs.parent, settings)
    assert [c.section for c in chunks] == ["Notes", "Queues", "Notes"]
    assert len({c.id for c in chunks}) == 3, "identical sections still get distinct ids"

    report = run_ingest([docs], settings, embedder=embedder)

    assert report.ok, report.failed
    assert len(open_store(settings).ids_by_source()["docs/faq.md"]) == 3
    again = run_ingest([docs], settings, embedder=ExplodingEmbedder())
    assert (again.added, again.updated, again.removed) == (0, 0, 0), "and the ids are stable"


# -- idempotent and incremental re-ingest ----------------------------------------------


def test_reingesting_unchanged_files_does_no_work(docs, settings, embedder) -> None:
    first = run_ingest([docs], settings, embedder=embedder)
    assert first.ok and first.added == first.chunks_total == 6, first.summary()
    generation = LexicalIndex.current_generation(settings.lexical_dir)

    second = run_ingest([docs], settings, embedder=ExplodingEmbedder())

    assert (second.added, second.updated, second.removed) == (0, 0, 0), second.summary()
    assert second.unchanged == 6
    assert second.chunks_total == 6
    assert second.files == 3
    assert LexicalIndex.current_generation(settings.lexical_dir) == generation
    assert open_store(settings).count() == 6


def test_editing_a_file_replaces_only_its_changed_chunks(docs, settings, embedder) -> None:
    run_ingest([docs], settings, embedder=embedder)
    store = open_store(settings)
    before = store.ids_by_source()
    old_zephyr = next(
        r.id for r in store.get(sorted(before["docs/alpha.md"])) if "seven days" in r.text
    )

    (docs / "alpha.md").write_text(ALPHA.replace("seven days", "thirty days"), encoding="utf-8")
    report = run_ingest([docs], settings, embedder=embedder)

    assert (report.added, report.updated, report.removed) == (0, 1, 1), report.summary()
    assert report.unchanged == 5
    after = store.ids_by_source()
    assert after["docs/beta.md"] == before["docs/beta.md"], "other files are untouched"
    assert after["docs/sub/gamma.md"] == before["docs/sub/gamma.md"]
    assert old_zephyr not in after["docs/alpha.md"]
    assert store.get([old_zephyr]) == [], "the old chunk is gone from the store"
    assert len(after["docs/alpha.md"] - before["docs/alpha.md"]) == 1
    assert len(after["docs/alpha.md"] & before["docs/alpha.md"]) == 2
    text = texts_by_source(store)["docs/alpha.md"]
    assert "thirty days" in text and "seven days" not in text
    units = store.units.get(include=["metadatas"])["metadatas"]
    assert old_zephyr not in {m["chunk_id"] for m in units}, "its answer units went too"

    answer = Assistant(settings, embedder=embedder).ask("How long does Zephyrqueue keep messages?")
    assert not answer.refused, answer.answer
    assert "thirty days" in answer.answer, answer.answer
    assert "seven" not in answer.answer
    assert all("seven" not in c.snippet for c in answer.citations), answer.citations


def test_deleting_and_adding_files(docs, settings, embedder) -> None:
    run_ingest([docs], settings, embedder=embedder)
    store = open_store(settings)
    before = store.ids_by_source()

    (docs / "beta.md").unlink()
    (docs / "delta.md").write_text(
        "# Delta\n\n## Search\n\n- Findlet indexes logs in real time.\n", encoding="utf-8"
    )
    report = run_ingest([docs], settings, embedder=embedder)

    assert report.removed == len(before["docs/beta.md"]) == 2, report.summary()
    assert (report.added, report.updated) == (1, 0), report.summary()
    after = store.ids_by_source()
    assert "docs/beta.md" not in after
    assert store.get(sorted(before["docs/beta.md"])) == []
    assert len(after["docs/delta.md"]) == 1
    assert after["docs/alpha.md"] == before["docs/alpha.md"]
    assert report.chunks_total == store.count() == 5


def test_ingesting_one_folder_leaves_other_folders_alone(tmp_path, docs, settings, embedder):
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.md").write_text("# X\n\n## Xs\n\n- Xylo plays notes.\n", encoding="utf-8")
    run_ingest([docs, other], settings, embedder=embedder)

    report = run_ingest([other], settings, embedder=ExplodingEmbedder())

    assert report.removed == 0, "files outside the ingested folder are not 'deleted'"
    assert set(open_store(settings).ids_by_source()) == {
        "docs/alpha.md",
        "docs/beta.md",
        "docs/sub/gamma.md",
        "other/x.md",
    }


# -- bad files among good ones ---------------------------------------------------------


def bad_folder(root: Path) -> Path:
    folder = root / "mixed"
    folder.mkdir(parents=True)
    (folder / "alpha.md").write_text(ALPHA, encoding="utf-8")
    (folder / "beta.md").write_text(BETA, encoding="utf-8")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 16)
    (folder / "blob.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00" + bytes(200))
    (folder / "diagram.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    return folder


def test_bad_files_fail_alone_and_good_ones_are_ingested(tmp_path, settings, embedder):
    folder = bad_folder(tmp_path)

    report = run_ingest([folder], settings, embedder=embedder)

    assert not report.ok
    failed = dict(report.failed)
    assert set(failed) == {"mixed/broken.pdf", "mixed/blob.txt"}, report.failed
    assert "PDF" in failed["mixed/broken.pdf"]
    assert "binary" in failed["mixed/blob.txt"]
    assert report.skipped == ["mixed/diagram.png"]
    assert report.files == 4, "supported files, good or bad"
    assert set(open_store(settings).ids_by_source()) == {"mixed/alpha.md", "mixed/beta.md"}
    assert report.added == report.chunks_total == 5
    summary = report.summary()
    assert "2 failed" in summary and "1 skipped" in summary, summary


def test_a_pdf_with_a_reference_loop_does_not_abort_the_ingest(tmp_path, settings, embedder):
    folder = tmp_path / "loop"
    folder.mkdir()
    (folder / "alpha.md").write_text(ALPHA, encoding="utf-8")
    (folder / "loop.pdf").write_bytes(pdf_bytes([b"1 0 R"]))  # catalog = itself

    report = run_ingest([folder], settings, embedder=embedder)

    assert [s for s, _ in report.failed] == ["loop/loop.pdf"]
    assert "loop/alpha.md" in open_store(settings).ids_by_source()


def test_cli_ingest_reports_failures_with_exit_1_and_ask_still_answers(
    tmp_path, model_cache, embedder
) -> None:
    folder = bad_folder(tmp_path)
    data = tmp_path / "cli-data"
    env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
    runner = CliRunner()

    result = runner.invoke(cli, ["--data-dir", str(data), "ingest", str(folder)], env=env)

    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "failed: mixed/broken.pdf: unreadable PDF" in result.stderr, result.stderr
    assert "failed: mixed/blob.txt: binary content" in result.stderr, result.stderr
    assert "skipped (unsupported type): mixed/diagram.png" in result.stderr
    assert "5 chunks added" in result.stdout and "2 failed" in result.stdout, result.stdout

    result = runner.invoke(
        cli,
        ["--data-dir", str(data), "ask", "How many times does Quokkaflow retry failed jobs?"],
        env=env,
    )

    assert result.exit_code == 0, (result.output, result.exception)
    assert "twice" in result.stdout, result.stdout
    assert "(mixed/beta.md)" in result.stdout, "the answer cites the good file"
    assert f"Schedulers{SEP}Quokkaflow" in result.stdout

    result = runner.invoke(cli, ["--data-dir", str(data), "ask", "   "], env=env)
    assert result.exit_code == 2, "an empty question is a usage error"


def test_a_good_file_that_turns_bad_keeps_its_chunks(docs, settings, embedder) -> None:
    (docs / "manual.pdf").write_bytes(text_pdf(["Quokkaflow archives logs after a week."]))
    run_ingest([docs], settings, embedder=embedder)
    store = open_store(settings)
    before = store.ids_by_source()
    assert "docs/manual.pdf" in before

    (docs / "alpha.md").write_bytes(b"# Alpha\n\ncaf\xe9 au lait\n")  # not UTF-8
    (docs / "manual.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    report = run_ingest([docs], settings, embedder=ExplodingEmbedder())

    assert sorted(s for s, _ in report.failed) == ["docs/alpha.md", "docs/manual.pdf"]
    assert report.removed == 0, "a file that cannot be read now loses nothing"
    assert store.ids_by_source() == before
    answer = Assistant(settings, embedder=embedder).ask("How long does Zephyrqueue keep messages?")
    assert "seven days" in answer.answer, answer.answer


# -- killed ingests converge -----------------------------------------------------------


@pytest.fixture(scope="module")
def notes(tmp_path_factory) -> Path:
    return write_notes(tmp_path_factory.mktemp("notes-src") / "notes", 40)


@pytest.fixture(scope="module")
def clean_snapshot(notes, tmp_path_factory, model_cache, embedder) -> dict:
    settings = make_settings(tmp_path_factory.mktemp("clean") / "data", model_cache)
    report = run_ingest([notes], settings, embedder=embedder)
    assert report.ok and report.chunks_total == 80, report.summary()
    return snapshot(settings)


@pytest.mark.parametrize(
    ("crash", "stored_before_kill"),
    [("third-upsert", 16), ("bm25-save", 80)],
    ids=["killed-during-upserts", "killed-before-bm25-save"],
)
def test_killed_ingest_is_finished_by_the_next_one(
    crash, stored_before_kill, notes, clean_snapshot, tmp_path, model_cache, embedder
) -> None:
    settings = make_settings(tmp_path / "data", model_cache)

    child = ingest_in_child(notes, settings.data_dir, model_cache, crash=crash, batch_chunks=8)

    assert child.returncode == 9, f"the child was not killed: {child.returncode}\n{child.stderr}"
    assert open_store(settings).count() == stored_before_kill, "the crash hit the wrong point"
    assert LexicalIndex.current_generation(settings.lexical_dir) is None

    report = run_ingest([notes], settings, embedder=embedder)

    assert report.ok, report.failed
    assert report.chunks_total == 80, report.summary()
    resumed = snapshot(settings)
    assert resumed["chunk ids by source"] == clean_snapshot["chunk ids by source"]
    assert resumed["unit ids"] == clean_snapshot["unit ids"]
    assert resumed["bm25/CURRENT"] == clean_snapshot["bm25/CURRENT"]
    assert resumed["store generation"] == clean_snapshot["store generation"]
    assert resumed["bm25/CURRENT"] == resumed["store generation"]
    assert resumed == clean_snapshot

    again = run_ingest([notes], settings, embedder=ExplodingEmbedder())
    assert (again.added, again.updated, again.removed) == (0, 0, 0), "and it stays done"


def test_killed_later_ingest_resumes_without_embedding_again(
    tmp_path, model_cache, embedder
) -> None:
    folder = write_notes(tmp_path / "src" / "notes", 20)
    settings = make_settings(tmp_path / "data", model_cache)
    first = ingest_in_child(folder, settings.data_dir, model_cache)
    assert first.returncode == 0, first.stderr
    write_notes(folder, 40)  # 20 new notes: 40 new chunks, in batches of 8

    child = ingest_in_child(
        folder, settings.data_dir, model_cache, crash="third-upsert", batch_chunks=8
    )
    assert child.returncode == 9, child.stderr
    assert open_store(settings).count() == 40 + 16

    report = run_ingest([folder], settings, embedder=embedder)

    assert (report.added, report.updated, report.removed) == (24, 0, 0), report.summary()
    assert report.unchanged == 56
    clean = make_settings(tmp_path / "clean", model_cache)
    run_ingest([folder], clean, embedder=embedder)
    assert snapshot(settings) == snapshot(clean)


def test_resuming_a_killed_first_ingest_embeds_only_what_is_missing(
    notes, tmp_path, model_cache, embedder
) -> None:
    settings = make_settings(tmp_path / "data", model_cache)
    child = ingest_in_child(
        notes, settings.data_dir, model_cache, crash="third-upsert", batch_chunks=8
    )
    assert child.returncode == 9, child.stderr
    stored = open_store(settings).ids_by_source()
    assert sum(len(ids) for ids in stored.values()) == 16

    report = run_ingest([notes], settings, embedder=embedder)

    assert report.added == 80 - 16, f"re-embedded what was already stored: {report.summary()}"
    assert report.unchanged == 16


def test_units_written_before_a_kill_are_pruned_on_resume(
    notes, clean_snapshot, tmp_path, model_cache, embedder
) -> None:
    settings = make_settings(tmp_path / "data", model_cache)
    child = ingest_in_child(
        notes, settings.data_dir, model_cache, crash="between-units-and-chunks", batch_chunks=8
    )
    assert child.returncode == 9, child.stderr
    store = open_store(settings)
    assert store.count() == 0 and store.units.count() > 0, "units are written first"

    run_ingest([notes], settings, embedder=embedder)

    assert snapshot(settings) == clean_snapshot


def test_orphan_units_are_pruned_even_when_the_change_is_reverted(
    tmp_path, model_cache, embedder
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "alpha.md").write_text(ALPHA, encoding="utf-8")
    (folder / "beta.md").write_text(BETA, encoding="utf-8")
    settings = make_settings(tmp_path / "data", model_cache)
    first = ingest_in_child(folder, settings.data_dir, model_cache)
    assert first.returncode == 0, first.stderr

    (folder / "alpha.md").write_text(ALPHA.replace("seven", "thirty"), encoding="utf-8")
    killed = ingest_in_child(
        folder, settings.data_dir, model_cache, crash="between-units-and-chunks"
    )
    assert killed.returncode == 9, killed.stderr
    (folder / "alpha.md").write_text(ALPHA, encoding="utf-8")  # the edit is undone

    run_ingest([folder], settings, embedder=embedder)

    clean = make_settings(tmp_path / "clean", model_cache)
    run_ingest([folder], clean, embedder=embedder)
    assert snapshot(settings)["unit ids"] == snapshot(clean)["unit ids"], "orphan units left"


# -- answers after ingest --------------------------------------------------------------


def test_answer_cites_the_ingested_file_and_section(docs, settings, embedder) -> None:
    run_ingest([docs], settings, embedder=embedder)
    assistant = Assistant(settings, embedder=embedder)

    answer = assistant.ask("How many times does Quokkaflow retry failed jobs?", trace=True)

    assert not answer.refused, answer.answer
    assert "twice" in answer.answer, answer.answer
    assert answer.citations, "a grounded answer has citations"
    top = answer.citations[0]
    assert top.source == "docs/beta.md", answer.citations
    assert top.section == f"Schedulers{SEP}Quokkaflow", answer.citations
    assert top.title == "Beta Handbook"
    assert "Quokkaflow" in top.snippet
    assert answer.trace["retrieved"][0]["source"] == "docs/beta.md"

    other = assistant.ask("Which tool samples one request in a hundred?")
    assert not other.refused, other.answer
    assert other.citations[0].source == "docs/sub/gamma.md"
    assert other.citations[0].section == f"Tracing{SEP}Lumenspan"


def test_question_about_nothing_ingested_is_refused(docs, settings, embedder) -> None:
    run_ingest([docs], settings, embedder=embedder)
    answer = Assistant(settings, embedder=embedder).ask(
        "What is the capital of Australia and its population?"
    )
    assert answer.refused, answer.answer
    assert answer.citations == []


def test_a_bm25_index_made_with_another_tokenizer_is_rebuilt_without_embedding(
    docs, settings, embedder
) -> None:
    from assistant.index.lexical import LexicalIndex

    run_ingest([docs], settings, embedder=embedder)
    generation = LexicalIndex.current_generation(settings.lexical_dir)
    (settings.lexical_dir / generation / "tokenizer.txt").write_text("an older tokenizer")
    assert not LexicalIndex.is_complete(settings.lexical_dir)
    run_ingest([docs], settings, embedder=ExplodingEmbedder())
    assert LexicalIndex.is_complete(settings.lexical_dir)


def test_chunks_are_stored_as_files_are_read_not_all_at_the_end(tmp_path, monkeypatch) -> None:
    """Memory holds one batch of chunks, however large the corpus: a batch is embedded
    and stored as soon as it fills, while later files are still to be read."""
    from assistant.settings import Settings
    from ingest import pipeline

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(12):
        sections = "\n\n".join(
            f"## Part {k}\n\nFile {n} part {k} says one thing." for k in range(4)
        )
        (folder / f"f{n:02}.md").write_text(f"# File {n}\n\n{sections}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", vector_store="memory", embedder="fake")
    events: list[str] = []
    real_load, store = pipeline.load, open_store(settings)
    real_upsert = store.upsert
    monkeypatch.setattr(
        pipeline, "load", lambda *a, **k: events.append("load") or real_load(*a, **k)
    )
    monkeypatch.setattr(
        store, "upsert", lambda r, v: events.append(f"store {len(r)}") or real_upsert(r, v)
    )
    monkeypatch.setattr(pipeline, "BATCH_CHUNKS", 10)
    seen: list[tuple[int, int]] = []

    report = run_ingest([folder], settings, store=store, progress=lambda d, t: seen.append((d, t)))

    assert report.ok and report.added == 48 == store.count()
    stores = [i for i, e in enumerate(events) if e.startswith("store")]
    assert stores[0] < max(i for i, e in enumerate(events) if e == "load"), events
    assert all(int(events[i].split()[1]) <= 10 for i in stores)
    assert seen[-1] == (48, 48) and all(d <= t for d, t in seen)


def test_an_embedding_failure_in_the_writer_surfaces_and_the_next_run_finishes(
    tmp_path, monkeypatch
) -> None:
    """Batches are embedded on a worker thread while files are read: its failure is the
    ingest's failure (not lost in the thread), its thread is gone, and what it did not
    write is written by the next run."""
    import threading

    from assistant.embeddings.fake import FakeEmbedder
    from assistant.settings import Settings
    from ingest import pipeline

    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(6):
        (folder / f"f{n}.md").write_text(f"# File {n}\n\n## A\n\nFile {n} says a thing.\n\n"
                                         f"## B\n\nFile {n} says another.\n", encoding="utf-8")  # fmt: skip
    settings = Settings(data_dir=tmp_path / "data", vector_store="memory", embedder="fake")
    store = open_store(settings)
    monkeypatch.setattr(pipeline, "BATCH_CHUNKS", 4)

    class FailsOnThirdBatch(FakeEmbedder):
        calls = 0

        def embed_passages(self, passages):
            type(self).calls += 1
            if self.calls == 3:
                raise RuntimeError("the model fell over")
            return super().embed_passages(passages)

    with pytest.raises(RuntimeError, match="fell over"):
        run_ingest([folder], settings, store=store, embedder=FailsOnThirdBatch())
    assert not [t for t in threading.enumerate() if t.name.startswith("ingest-write")]
    assert 0 < store.count() < 12

    report = run_ingest([folder], settings, store=store, embedder=FakeEmbedder())
    assert report.ok and store.count() == 12
