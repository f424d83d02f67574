"""Answers stay on topic when unrelated documents share the index (the scale check, small).

Two distractor documents borrow the words of in-scope and out-of-scope questions: a
database manual page about state capitals, and a list of time zones that names
Australia. The article must still be what answers, and "What's the capital of
Australia?" must be refused rather than answered from the state-capitals example.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.grounding.gate import assess, leading
from assistant.grounding.judges.fake import FixedJudge
from assistant.grounding.scoring import ScoredUnit, score_units
from assistant.grounding.signals import gather_signals
from assistant.grounding.support import only_in_passing
from assistant.index.lexical import LexicalIndex
from assistant.models import ChunkRecord, Hit, Turn
from assistant.query.intent import asks_caution, make_query
from assistant.query.names import question_names
from assistant.retrieval.hybrid import HybridRetriever
from assistant.service import Assistant
from assistant.text import stem
from tests.conftest import make_settings
from tests.helpers.units import scored

ROOT = Path(__file__).resolve().parent.parent
CAPITALS = """# 5.10 Inheritance

Let's create two tables: a table cities and a table capitals. Naturally, capitals are
also cities, so you want some way to show the capitals implicitly when you list all
cities. Each state has many cities, but only one capital. We want to be able to quickly
retrieve the capital city for any particular state.
"""
ZONES = """# B.4 Time zone names

Examples of zone names: America/New_York, Europe/Paris, Australia/Sydney, Asia/Tokyo.
A time zone abbreviation such as AEST is resolved through the zone's rules. For
example, the Australia configuration file defines SAT (for South Australian Standard
Time).
"""
COOKBOOK = """# Logging cookbook

## Patterns to avoid

- Opening the same log file multiple times from several processes garbles the file.
- Creating a lot of loggers wastes memory: use one per module.
"""
BIRTHDAYS = """# Dataclasses

## Keyword-only fields

Every field can be keyword-only: `@dataclass(kw_only=True) class Birthday: name: str;
birthday: datetime.date`. A heartfelt birthday message for a sister is then
`f"Happy birthday, {b.name}!"`.
"""
KEYS = """# Performance notes

The keys are precomputed to save unnecessary calls to the key function during
searches. What is the fundamental difference between a key and a value? A key is
hashed; a value is not. The difference matters for performance.
"""


@pytest.fixture(scope="module")
def mixed_docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("mixed-docs")
    shutil.copy(ROOT / "corpus" / "modern-backend-frameworks-2025.md", docs)
    (docs / "ddl-inherit.md").write_text(CAPITALS)
    (docs / "timezones.md").write_text(ZONES)
    (docs / "bisect.md").write_text(KEYS)
    (docs / "logging-cookbook.md").write_text(COOKBOOK)
    (docs / "dataclasses.md").write_text(BIRTHDAYS)
    return docs


@pytest.fixture(scope="module")
def mixed(
    mixed_docs: Path, tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder
) -> Assistant:
    docs = mixed_docs
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


def test_a_sentence_opening_name_counts_when_paired_with_another(mixed: Assistant) -> None:
    lexical = mixed.ready()
    assert [w for w, _ in question_names("Fastify or NestJS, and why?", lexical)] == [
        "Fastify",
        "NestJS",
    ]
    assert [w for w, _ in question_names("Hono vs Elysia: where do they run?", lexical)] == [
        "Hono",
        "Elysia",
    ]
    # A plain sentence opener is not a name (it would be "absent" and refuse the answer).
    names = question_names("Following the decision tree for a Kotlin shop?", lexical)
    assert [w for w, _ in names] == ["Kotlin"]
    # A dot inside a word makes one, even opening a sentence; "e.g." does not.
    names = question_names("Loco.rs what is it, e.g. beside Node.js?", lexical)
    assert [w for w, _ in names] == ["Loco.rs", "Node.js"]
    assert mixed.ask("Loco.rs what is it?").refused


def test_an_opening_name_gets_its_own_section_cited(mixed: Assistant) -> None:
    answer = mixed.ask("Fastify or NestJS for a cold-start-sensitive deployment, and why?")
    sections = [c.section for c in answer.citations]
    assert "1. TypeScript backends › Fastify" in sections, sections
    assert "raw-speed" in answer.answer, answer.answer


def test_a_question_about_risks_is_answered_by_the_nearest_warning(mixed: Assistant) -> None:
    # Which passage answers, not whether: the relevance judge is held at "relevant".
    believing = Assistant(mixed.settings, store=mixed.store, embedder=mixed.embedder,
                          judge=FixedJudge(1.0))  # fmt: skip
    answer = believing.ask(
        "Is it OK to skip validating incoming requests and let the handlers cope with bad input?"
    )
    assert not answer.refused, answer.answer
    assert any(c.section.endswith("10 common anti-patterns") for c in answer.citations)
    assert "surface as 500 later" in answer.answer, answer.answer
    # One warning, the relevant one, not the whole list or another manual's.
    assert "Auth rolled from scratch" not in answer.answer, answer.answer
    assert "log file" not in answer.answer, answer.answer


def test_asking_about_risks_does_not_count_as_evidence(mixed: Assistant) -> None:
    lexical = mixed.ready()
    question = "Is it a good idea to open one database connection per Lambda invocation?"
    vector = mixed.embedder.embed_one(question)
    hits = HybridRetriever(mixed.store, lexical).retrieve(question, vector, 5)
    query = make_query(question, question, vector, vector, lexical)
    assert query.caution
    units = score_units(query, hits, lexical)
    boosted = [u for u in units if u.intent_bonus]
    assert len(boosted) == 1 and "connection storm" in boosted[0].text
    assert units[0] is boosted[0]  # it leads the answer …
    verdict = assess(query, units, lexical, mixed.judge)
    assert verdict.best == pytest.approx(max(u.evidence_score for u in units))  # … unaided
    assert mixed.ask("Is it a good idea to give our Kafka topics three partitions?").refused


def test_a_request_to_write_something_is_refused_however_well_it_matches(
    mixed: Assistant,
) -> None:
    answer = mixed.ask("Can you write a heartfelt birthday message for my sister?", trace=True)
    assert answer.refused, answer.answer
    assert answer.trace["gate"]["reason"] == "a request to write a message"
    assert answer.answer.startswith("StackGuide doesn't write a message for you"), answer.answer
    # Writing code or handling of one's own is a question, not a request for prose.
    own = mixed.ask(
        "We'd like to write our own login, session and password handling. Good idea?",
        trace=True,
    )
    assert not own.trace["gate"]["reason"].startswith("a request to write"), own.trace["gate"]


def test_an_index_saved_before_sources_were_recorded_is_rebuilt(
    mixed: Assistant, mixed_docs: Path, tmp_path: Path, model_cache: Path
) -> None:
    import shutil

    # an older index: a copy of the shared one, without the file older versions lacked
    shutil.copytree(mixed.settings.data_dir, tmp_path / "data")
    older = Assistant(make_settings(tmp_path / "data", model_cache), embedder=mixed.embedder)
    lexical_dir = older.settings.lexical_dir
    assert LexicalIndex.is_complete(lexical_dir)
    generation = LexicalIndex.current_generation(lexical_dir)
    (lexical_dir / generation / "sources.json").unlink()
    assert LexicalIndex.load(lexical_dir).sources is None  # still loads: the check is skipped
    assert not LexicalIndex.is_complete(lexical_dir)
    older.ingest([mixed_docs])  # any ingest repairs it (nothing changed but the index)
    assert LexicalIndex.is_complete(lexical_dir)
    assert len({r.source for r in older.store.iter_records()}) == 6  # no second copy


def test_spelling_correction_fixes_typos_not_short_unknown_names() -> None:
    records = [
        ChunkRecord(id=f"c{i}", text=text, source="notes.md", title="", section="Notes")
        for i, text in enumerate(
            ["Fastify is schema-first.", "Drizzle is SQL-first.", "Thanks to Rahila Bee."]
        )
    ]
    lexical = LexicalIndex.build(records)
    assert lexical.correct("fastfy") == "fastify"
    assert lexical.correct(stem("drizle")) == stem("drizzle")
    # "Rails" is not a misspelt contributor name: left unknown, the gate can refuse it.
    assert lexical.correct("rail") == "rail"
    # A short word is corrected onto a name the corpus writes about, not any rare word.
    hashes = LexicalIndex.build(
        [
            ChunkRecord(id="b", text="BLAKE hashes are fast.", source="h.md", title="",
                        section="Hashing", units=[{"text": "BLAKE hashes.", "raw": ""}]),
            ChunkRecord(id="h", text="Hono runs on the edge.", source="f.md", title="",
                        section="Hono", units=[{"text": "Hono runs.", "raw": ""}]),
        ]
    )  # fmt: skip
    assert hashes.correct("bake") == "bake"
    assert hashes.correct("honno") == "hono"


@pytest.mark.parametrize(
    ("question", "about_risks"),
    [
        ("Our Lambda functions each hold a DB connection open. Any problem with that?", True),
        ("Is GraphQL a good idea for three endpoints?", True),
        ("We run a cluster, so every service goes on Kubernetes, right?", True),
        ("What goes wrong when the ORM lazy-loads in a loop?", True),
        # Asking leave to do something: the corpus' warning about it answers first.
        ("Can I query the DB from an async schema during validation?", True),
        ("is it fine to set task_always_eager for unit tests?", True),
        ("How can I query the DB from a hook?", False),
        ("Which problems does OpenTelemetry address?", False),
        ("What problem does Temporal solve?", False),
        ("Which framework fits a Bun shop?", False),
    ],
)
def test_which_questions_ask_about_risks(question: str, about_risks: bool) -> None:
    assert asks_caution(question) is about_risks


def test_one_section_takes_one_place_in_the_top_k(tmp_path, model_cache, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(ROOT / "corpus" / "modern-backend-frameworks-2025.md", docs)
    tip = (
        "Recursive queries with N plus one joins are planned like any other: tip {i}. "
        "A graph of rows is walked one level per iteration, and each level's query "
        "plan is chosen again, so the planner's estimates for the working table matter. "
    ) * 3
    boxes = "\n\n".join(f"### Tip\n\n{tip.format(i=i)}" for i in range(3))
    (docs / "with-queries.md").write_text(
        f"# WITH Queries\n\n## Common Table Expressions\n\n{boxes}\n"
    )
    assistant = Assistant(make_settings(tmp_path / "data", model_cache), embedder=embedder)
    assert assistant.ingest([docs]).ok
    question = "graph ql n plus one queries, how do ppl avoid that"
    hits = assistant.search(question, 5)
    places = [(h.chunk.source, h.chunk.section) for h in hits]
    assert len(places) == len(set(places)), places  # the three "Tip" boxes count once
    assert any(section.endswith("GraphQL") for _, section in places), places


def test_a_name_typed_in_two_pieces_is_joined_when_the_corpus_heads_a_section_with_it() -> None:
    def record(id_: str, section: str, text: str) -> ChunkRecord:
        return ChunkRecord(id=id_, text=text, source="a.md", title="", section=section,
                           units=[{"text": text, "raw": text}])  # fmt: skip

    lexical = LexicalIndex.build(
        [
            record("g", "API styles › GraphQL", "Federation v2 is mature."),
            record("s", "JVM › Spring Boot", "Spring Data is there."),
        ]
    )
    assert lexical.rejoin("graph ql n plus one, how to avoid") == "graphql n plus one, how to avoid"
    assert lexical.rejoin("Spring Boot or Quarkus?") == "Spring Boot or Quarkus?"  # two names
    assert lexical.rejoin("a big service") == "a big service"


def test_risk_intent_is_read_from_the_turn_not_the_answer_it_follows(mixed: Assistant) -> None:
    # The earlier answer says "avoid"; the follow-up asks nothing about risks, so no
    # warning section is pulled in on the strength of the quoted answer.
    history = [
        Turn("user", "Which Python ORM should we pick?"),
        Turn("assistant", "SQLAlchemy 2.0 [1]. Sequelize is legacy: avoid it for new projects."),
    ]
    answer = mixed.ask("Does that one support async?", history, trace=True)
    assert answer.standalone_question, "a follow-up that refers back"
    sections = [r["section"] for r in answer.trace["retrieved"]]
    assert not any(s.endswith("10 common anti-patterns") for s in sections), sections
    # The same words asked as a question about risks do get the warning.
    search = HybridRetriever(mixed.store, mixed.ready())
    text = "Which Python ORM should we pick? Any problem with lazy loading?"
    hits = search.retrieve(text, mixed.embedder.embed_one(text), 5)
    assert any(h.chunk.section.endswith("10 common anti-patterns") for h in hits)


def test_a_name_met_only_in_passing_and_alone_is_refused(mixed: Assistant) -> None:
    # At scale a time-zone line naming Australia ranks first (and "capital" turns up in
    # another manual's table example): the passage shares one word with the question.
    lexical = mixed.ready()
    question = "What's the capital of Australia?"
    vector = mixed.embedder.embed_one(question)
    records = {r.source.rsplit("/", 1)[-1]: r for r in mixed.store.iter_records()}
    hits = [Hit(records["timezones.md"], 1.0), Hit(records["ddl-inherit.md"], 0.9, rank=1)]
    query = make_query(question, question, vector, vector, lexical)
    units = score_units(query, hits, lexical)
    assert "Australia" in units[0].text  # the name is in the passage an answer leads with
    verdict = assess(query, units, lexical, mixed.judge)
    assert not verdict.ok
    evidence = leading(units)
    names = question_names(question, lexical)
    assert only_in_passing(names, query, evidence, lexical) == ["Australia"]


@pytest.mark.parametrize(
    "question",
    [
        "Where does a regulated enterprise Kotlin shop land in the decision tree?",
        "Is Kotlin production-ready?",  # "production" is elsewhere in the same article
        "Tell me about Scalar.",  # the name alone: its passing mention is the answer
    ],
)
def test_a_name_met_in_passing_is_answered_from_the_document_that_names_it(
    mixed: Assistant, question: str
) -> None:
    lexical = mixed.ready()
    assert {"kotlin", "scalar"}.isdisjoint(lexical.subjects)  # named, never written about
    answer = mixed.ask(question)
    assert not answer.refused, answer.answer
    assert all(c.source.endswith("modern-backend-frameworks-2025.md") for c in answer.citations)


def test_a_follow_ups_own_terms_steer_retrieval(mixed: Assistant) -> None:
    # The topic (edge runtimes) is Hono's; the turn asks about Bun, Elysia's subject.
    history = [
        Turn("user", "What's a good framework for deploying an API to edge runtimes?"),
        Turn("assistant", "Hono: it's edge-first and runs on Cloudflare Workers, Bun, Deno "
             "and Node from one codebase [1]."),
    ]  # fmt: skip
    answer = mixed.ask("And if we're all-in on Bun specifically?", history, trace=True)
    sections = [r["section"] for r in answer.trace["retrieved"]]
    assert "1. TypeScript backends › Elysia" in sections, sections


def test_a_common_alias_means_the_name_the_corpus_uses() -> None:
    def record(id_: str, source: str, section: str, text: str) -> ChunkRecord:
        return ChunkRecord(id=id_, text=text, source=source, title="", section=section,
                           units=[{"text": text, "raw": text}])  # fmt: skip

    lexical = LexicalIndex.build(
        [
            record("go", "article.md", "4. Go — Fiber, Echo, Chi, Gin", "Gin — still popular."),
            record("pg1", "gin.html", "GIN Tips", "GIN indexes are still fast to search."),
            record("pg2", "gin-intro.html", "GIN", "GIN stands for generalized inverted index."),
        ]
    )
    assert lexical.correct("golang") == "go"
    assert lexical.search("ppl still using gin in golang or nah", 1)[0][0] == "go"
    # Only onto a term the corpus has: elsewhere the alias stays as typed.
    assert (
        LexicalIndex.build([record("x", "a.md", "Notes", "Nothing here.")]).correct("golang")
        == "golang"
    )


def test_passages_sharing_one_word_each_with_the_question_are_no_answer(mixed: Assistant) -> None:
    # "raw-speed" (Fastify, Gin) and "Macro-light" (Axum) each hold one of its words.
    answer = mixed.ask("What is the speed of light?", trace=True)
    assert answer.refused, answer.answer
    assert answer.trace["gate"]["probability"] < mixed.judge.threshold
    # A passage holding two of them answers, however loosely it is worded.
    assert not mixed.ask("raw speed of Fastify?").refused


def _unit(source: str, text: str, score: float, lex: float, lexical_terms: set[str]) -> ScoredUnit:
    rec = ChunkRecord(id=source, text=text, source=source, title="", section=source,
                      units=[{"text": text, "raw": text}])  # fmt: skip
    return scored(Hit(rec, score), text, score, terms=lexical_terms, meaning=0.37, term_share=lex)


def test_leading_passages_scattered_over_documents_are_a_patchwork() -> None:
    # "speed of sound": an audio device's sample rate, a beep's frequency, a hotel's
    # rooms, each nearly as good as the next and none holding half the question.
    question = "What's the speed of sound in air at room temperature?"
    units = [
        _unit("winsound.html", "The frequency of the sound, in hertz.", 0.47, 0.21, {"sound"}),
        _unit("ossaudiodev.html", "speed(samplerate) sets the rate.", 0.44, 0.16, {"speed"}),
        _unit("booking.html", "One row per room; the air conditioning works.", 0.40, 0.42,
              {"room", "air"}),
    ]  # fmt: skip
    lexical = LexicalIndex.build([u.hit.chunk for u in units])
    vector = np.zeros(3)

    def spread(units: list[ScoredUnit], question: str = question, standalone: str = question):
        query = make_query(question, standalone, vector, vector, lexical)
        evidence = leading(units)
        signals = gather_signals(query, evidence, evidence[0], lexical, [], False, 1.0, set(),
                                 evidence)  # fmt: skip
        return signals.spread

    assert spread(units) == 3
    # Any one of these makes it no patchwork: a passage holding half the question, …
    half = [*units[:2], _unit("booking.html", "x", 0.40, 0.6, {"room", "air", "temperature"})]
    assert spread(half) == 0
    # … the third document trailing further behind, …
    assert spread([*units[:2], _unit("booking.html", "x", 0.30, 0.42, {"room"})]) == 2
    # … or a follow-up, which draws on the earlier topic's places by design.
    assert spread(units, "and at room temperature?", question) == 0


def test_a_name_the_corpus_writes_in_the_singular_is_not_unknown_to_the_judge() -> None:
    units = [_unit("sizing.md", "Give each worker one vCPU.", 0.6, 0.5, {"worker", "vcpu"})]
    lexical = LexicalIndex.build([u.hit.chunk for u in units])
    vector = np.zeros(3)

    def unknown(question: str, names: list[tuple[str, list[str]]]) -> float:
        query = make_query(question, question, vector, vector, lexical)
        return gather_signals(query, units, units[0], lexical, names, False, 1.0, set(),
                              units).names_unknown  # fmt: skip

    # The subject rule reads "vCPUs" as the corpus' "vCPU"; the judge's feature agrees.
    assert unknown("How many vCPUs per worker?", [("vCPUs", ["vcpus"])]) == 0.0
    assert unknown("How many GPUs per worker?", [("GPUs", ["gpus"])]) == 1.0


def test_a_lowercase_word_is_a_name_when_the_corpus_writes_it_capitalised(tmp_path: Path) -> None:
    def record(id_: str, text: str) -> ChunkRecord:
        return ChunkRecord(id=id_, text=text, source=f"{id_}.md", title="", section="Notes",
                           units=[{"text": text, "raw": text}])  # fmt: skip

    lexical = LexicalIndex.build(
        [
            record("a", "We deploy Hono on the edge; Hono stays small, even in Canada."),
            record("b", "Hono. The rest of the docs use curses attributes such as STANDOUT."),
            record("c", "Set the attribute to standout, or Standout mode for the rest."),
        ]
    )
    assert {"hono", "canada"} <= lexical.proper
    # Mid-sentence lowercase use wins ("rest"); ALL CAPS is a constant as often as a name.
    assert {"rest", "standout", "the"}.isdisjoint(lexical.proper)
    names = question_names("does hono pull in deps? capital of canada? the rest?", lexical)
    assert [w for w, _ in names] == ["hono", "canada"]
    # Saved and loaded with the index; one written before names were recorded still
    # loads (without them) and counts as incomplete, so the next ingest rebuilds it.
    lexical.save(tmp_path, "g1")
    assert LexicalIndex.load(tmp_path).proper == lexical.proper
    (tmp_path / "g1" / "proper.json").unlink()
    assert LexicalIndex.load(tmp_path).proper == set()
    assert not LexicalIndex.is_complete(tmp_path)
