"""Answers stay on topic when unrelated documents share the index (the scale check, small).

Two distractor documents borrow the words of in-scope and out-of-scope questions: a
database manual page about state capitals, and a list of time zones that names
Australia. The article must still be what answers, and "What's the capital of
Australia?" must be refused rather than answered from the state-capitals example.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.lexical import LexicalIndex
from assistant.retrieval import HybridRetriever
from assistant.service import Assistant
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parent.parent
CAPITALS = """# 5.10 Inheritance

Let's create two tables: a table cities and a table capitals. Naturally, capitals are
also cities, so you want some way to show the capitals implicitly when you list all
cities. Each state has many cities, but only one capital. We want to be able to quickly
retrieve the capital city for any particular state.
"""
ZONES = """# B.4 Time zone names

Examples of zone names: America/New_York, Europe/Paris, Australia/Sydney, Asia/Tokyo.
A time zone abbreviation such as AEST is resolved through the zone's rules.
"""
KEYS = """# Performance notes

The keys are precomputed to save unnecessary calls to the key function during
searches. What is the fundamental difference between a key and a value? A key is
hashed; a value is not. The difference matters for performance.
"""


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder) -> Assistant:
    docs = tmp_path_factory.mktemp("mixed-docs")
    shutil.copy(ROOT / "corpus" / "modern-backend-frameworks-2025.md", docs)
    (docs / "ddl-inherit.md").write_text(CAPITALS)
    (docs / "timezones.md").write_text(ZONES)
    (docs / "bisect.md").write_text(KEYS)
    data = tmp_path_factory.mktemp("mixed-index")
    assistant = Assistant(make_settings(data, model_cache), embedder=embedder)
    assert assistant.ingest([docs]).ok
    return assistant


def test_a_name_found_only_in_another_document_is_refused(mixed: Assistant) -> None:
    answer = mixed.ask("What's the capital of Australia?", trace=True)
    assert answer.refused, answer.answer
    assert "Australia" in answer.trace["gate"]["reason"]


def test_names_the_article_discusses_are_context_not_grounds_to_refuse(mixed: Assistant) -> None:
    # Java and Python are not in the gRPC section, but the article discusses both.
    answer = mixed.ask(
        "Our internal services are written in Go, Java and Python and need typed clients "
        "and streaming between them. What should they talk over?"
    )
    assert not answer.refused
    assert any("gRPC" in c.section for c in answer.citations)


def test_the_passage_naming_both_options_beats_one_sharing_common_words(
    mixed: Assistant,
) -> None:
    answer = mixed.ask("Keycloak vs Clerk — what's the fundamental difference?", trace=True)
    assert answer.trace["retrieved"][0]["section"].startswith("9. Auth")
    assert answer.citations[0].section.startswith("9. Auth")
    assert "self-hosted" in answer.answer and "managed auth" in answer.answer


def test_coverage_weighs_rare_terms_most(mixed: Assistant) -> None:
    lexical = mixed.ready()
    records = list(mixed.store.iter_records())
    auth = next(r.id for r in records if r.section == "9. Auth — the 2025 landscape")
    keys = next(r.id for r in records if r.source.endswith("bisect.md"))
    cover = lexical.coverage("Keycloak vs Clerk — what's the fundamental difference?", [auth, keys])
    assert cover[auth] >= 0.6  # both rare names; only "fundamental" is missing
    assert cover[keys] < cover[auth]  # it shares only "fundamental"


def test_a_named_options_own_section_is_retrieved(mixed: Assistant) -> None:
    lexical = mixed.ready()
    question = "Should we pick Fastify or NestJS for a cold-start-sensitive deployment?"
    vector = mixed.embedder.embed_one(question)
    search = HybridRetriever(mixed.store, lexical)
    sections = [h.chunk.section for h in search.retrieve(question, vector, 5)]
    assert "1. TypeScript backends › Fastify" in sections
    assert "1. TypeScript backends › NestJS" in sections


def test_an_index_saved_before_sources_were_recorded_is_rebuilt(mixed: Assistant) -> None:
    lexical_dir = mixed.settings.lexical_dir
    assert LexicalIndex.is_complete(lexical_dir)
    generation = LexicalIndex.current_generation(lexical_dir)
    (lexical_dir / generation / "sources.json").unlink()
    assert LexicalIndex.load(lexical_dir).sources is None  # still loads: the check is skipped
    assert not LexicalIndex.is_complete(lexical_dir)
    mixed.ingest([Path(mixed.settings.corpus_dir).parent / "corpus"])  # any ingest repairs it
    assert LexicalIndex.is_complete(lexical_dir)
