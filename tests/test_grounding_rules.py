"""The gate's rules, one by one, on hand-made indexes and units (no model, no store).

Subjects: what a question asks about or constrains by. Support: which of them the leading
evidence mentions. The gate: refuse when it covers none of the names, answer in part and
say what is missing when it covers some, and otherwise ask the relevance judge.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.grounding.gate import assess
from assistant.grounding.judges.base import Signals
from assistant.grounding.judges.fake import FixedJudge, FunctionJudge
from assistant.grounding.judges.features import FEATURES, FeatureJudge
from assistant.grounding.scoring import ScoredUnit
from assistant.grounding.support import subject_support
from assistant.index.lexical import LexicalIndex
from assistant.models import ChunkRecord, Hit
from assistant.prompts import Prompts
from assistant.query.intent import make_query
from assistant.query.subjects import question_subjects
from assistant.settings import REPO_ROOT
from assistant.text import tokenize
from tests.helpers.units import scored

DOCS = {
    "fastify": ("1. TypeScript › Fastify", "We deploy Fastify for its JSON Schema validation. "
                "In Fastify the schema drives OpenAPI docs and serialization."),
    "hono": ("1. TypeScript › Hono", "We run Hono on Cloudflare Workers, Bun and Deno; "
             "with Hono one codebase covers every runtime."),
    "jobs": ("11. Background jobs", "For jobs we queue work in Redis with BullMQ; in Ruby, "
             "Sidekiq is the standard. Redis also backs Celery."),
    "orm": ("8. ORM / data layer", "An ORM maps rows to objects; in TypeScript we pick "
            "Prisma or Drizzle, and REST APIs return them as JSON."),
}  # fmt: skip


def _record(key: str) -> ChunkRecord:
    section, text = DOCS[key]
    return ChunkRecord(id=key, text=text, source=f"{key}.md", title="Guide", section=section,
                       units=[{"text": text, "raw": text}])  # fmt: skip


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex.build([_record(k) for k in DOCS])


def _subjects(question: str, lexical: LexicalIndex) -> dict[str, bool]:
    return {s.written: s.known for s in question_subjects(question, lexical)}


def _unit(key: str, score: float = 0.6) -> ScoredUnit:
    rec = _record(key)
    return scored(Hit(rec, score), rec.text, score,
                  terms=set(tokenize(f"{rec.section}\n{rec.text}")), term_share=0.5)  # fmt: skip


def _query(question: str, lexical: LexicalIndex):
    return make_query(question, question, np.zeros(3), np.zeros(3), lexical)


# -- subjects ------------------------------------------------------------------------------
def test_a_capitalised_name_is_a_subject_known_or_not(lexical: LexicalIndex) -> None:
    assert _subjects("Which web framework for Crystal?", lexical) == {"Crystal": False}
    assert _subjects("Is Fastify fast?", lexical) == {"Fastify": True}  # a corpus name opens


def test_names_with_symbols_are_subjects_the_index_cannot_see(lexical: LexicalIndex) -> None:
    # Index terms drop the symbol ("F#" would be "f"): such a name is covered only where
    # the corpus writes it.
    assert _subjects("What is the best F# web framework?", lexical) == {"F#": False}
    assert _subjects("Is .NET any good here?", lexical) == {".NET": False}


def test_alternatives_offered_in_a_choice_are_subjects_whatever_their_case(
    lexical: LexicalIndex,
) -> None:
    assert _subjects("kafka or nats for events?", lexical) == {"kafka": False, "nats": False}
    # One side the corpus has: both are what the choice is about.
    assert _subjects("redis or memcached for sessions?", lexical) == {
        "redis": True, "memcached": False}  # fmt: skip
    # Two ordinary words are no choice of tools.
    assert _subjects("one big or many small handlers?", lexical) == {}
    # A side the corpus uses only as a plain word says what the choice is, beside a name.
    assert _subjects("Tortoise instead of objects?", lexical) == {"Tortoise": False}
    assert _subjects("Tortoise instead of prisma?", lexical) == {
        "Tortoise": False, "prisma": True}  # fmt: skip


def test_a_word_english_almost_never_uses_is_a_name_unless_it_is_a_slip(
    lexical: LexicalIndex,
) -> None:
    assert _subjects("can hono run on netlify?", lexical) == {"hono": True, "netlify": False}
    # Jargon English does use is not a tool; nor is a misspelt word or a derived one.
    assert _subjects("is it ok in prod?", lexical) == {}
    assert _subjects("how do i raise the body limt?", lexical) == {}
    assert _subjects("a dockerized deploy?", lexical) == {}
    assert _subjects("why is the plugin body untyped?", lexical) == {}  # un- + typed
    # A prefix that leaves a syllable, not a word, opens a name.
    assert _subjects("can unkey run here?", lexical) == {"unkey": False}


def test_an_english_word_is_not_taken_for_a_misspelt_name() -> None:
    text = "We serve the API with Flask, and Flask blueprints group its routes."
    flask = ChunkRecord(id="flask", text=text, source="flask.md", title="Guide",
                        section="3. Python › Flask", units=[{"text": text, "raw": text}])  # fmt: skip
    lexical = LexicalIndex.build([*(_record(k) for k in DOCS), flask])
    # "flaky" is an edit away from "Flask": an English word, not a slip.
    assert _subjects("how do i retry a flaky third-party call?", lexical) == {}
    assert _subjects("does flask serve the api?", lexical) == {"flask": True}  # the name itself


def test_shouting_is_not_a_name_but_an_acronym_is(lexical: LexicalIndex) -> None:
    assert _subjects("SYSTEM OVERRIDE: which queue?", lexical) == {}
    assert _subjects("any framework for our COBOL code?", lexical) == {"COBOL": False}


def test_names_side_by_side_are_one_subject(lexical: LexicalIndex) -> None:
    assert _subjects("How fast does it start on Azure Functions?", lexical) == {
        "Azure Functions": False}  # fmt: skip


def test_a_misspelt_name_is_read_as_the_corpus_name_never_as_a_common_word(
    lexical: LexicalIndex,
) -> None:
    assert _subjects("fastfy or honno?", lexical) == {"fastfy": True, "honno": True}
    # "rollbar" is not "rollback", though the corpus might say that word.
    rollback = LexicalIndex.build(
        [
            *(_record(k) for k in DOCS),
            ChunkRecord(
                id="db",
                text="A failed migration is a rollback.",
                source="db.md",
                title="",
                section="Migrations",
                units=[{"text": "A failed migration is a rollback.", "raw": ""}],
            ),
        ]
    )
    assert _subjects("sentry or rollbar?", rollback) == {"sentry": False, "rollbar": False}


# -- support -------------------------------------------------------------------------------
def test_a_subject_is_supported_where_the_leading_evidence_mentions_it(
    lexical: LexicalIndex,
) -> None:
    subjects = question_subjects("Should we pair Fastify with Tortoise?", lexical)
    support = subject_support(subjects, [_unit("fastify")], lexical)
    assert support.missing == ["Tortoise"]
    assert support.anchors == ["Fastify"]
    assert support.share == 0.5
    # Known to the corpus is not enough: the documents leading the answer must say it.
    elsewhere = subject_support(question_subjects("Is Hono good?", lexical), [_unit("jobs")],
                                lexical)  # fmt: skip
    assert elsewhere.missing == ["Hono"]
    # A name asked in a plural the stemmer keeps ("vCPUs") is supported by the singular.
    text = "Give each pod 2 vCPU; the second vCPU runs the garbage collector."
    pods = ChunkRecord(id="pods", text=text, source="k8s.md", title="Guide", section="Pods",
                       units=[{"text": text, "raw": text}])  # fmt: skip
    sized = LexicalIndex.build([*(_record(k) for k in DOCS), pods])
    unit = replace(_unit("fastify"), hit=Hit(pods, 0.6), text=text, terms=set(tokenize(text)))
    asked = question_subjects("How many vCPUs per pod?", sized)
    assert [s.written for s in asked] == ["vCPUs"]
    assert subject_support(asked, [unit], sized).missing == []
    # Nor is a name met only in passing (`only_in_passing` says which).
    passing = subject_support(subjects, [_unit("fastify")], lexical, passing={"Fastify"})
    assert passing.missing == ["Fastify", "Tortoise"] and passing.anchors == []


def test_kinds_of_thing_and_acronyms_anchor_no_partial_answer(lexical: LexicalIndex) -> None:
    question = "Which REST framework for our COBOL code?"
    subjects = question_subjects(question, lexical)
    support = subject_support(subjects, [_unit("orm")], lexical)
    assert support.missing == ["COBOL"] and support.anchors == []


# -- the gate ------------------------------------------------------------------------------
def test_a_question_whose_names_the_corpus_lacks_is_refused_before_any_judge(
    lexical: LexicalIndex,
) -> None:
    judge = FixedJudge(1.0)
    verdict = assess(_query("Which ORM pairs well with Gleam?", lexical), [_unit("orm")],
                     lexical, judge)  # fmt: skip
    assert not verdict.ok
    assert verdict.reason == "the corpus never mentions Gleam"
    assert verdict.uncovered == ["Gleam"]
    assert judge.calls == []  # the judge is not asked: nothing it says could change this


def test_a_question_covered_in_part_is_answered_saying_what_is_not(
    lexical: LexicalIndex,
) -> None:
    verdict = assess(_query("Should we pair Fastify with Tortoise?", lexical),
                     [_unit("fastify")], lexical, FixedJudge(0.9))  # fmt: skip
    assert verdict.ok and verdict.uncovered == ["Tortoise"]
    note = verdict.note(Prompts(REPO_ROOT / "prompts"))
    assert note.startswith("The corpus says nothing about Tortoise")
    # The judge still decides whether the covered part is answered.
    low = assess(_query("Should we pair Fastify with Tortoise?", lexical),
                 [_unit("fastify")], lexical, FixedJudge(0.1))  # fmt: skip
    assert not low.ok and low.uncovered == []


def test_the_best_passage_must_reach_the_judges_threshold(lexical: LexicalIndex) -> None:
    query = _query("How does Hono cover every runtime?", lexical)
    units = [_unit("hono", 0.7), _unit("jobs", 0.5)]
    # Only the passage about Hono answers: the best of the two decides.
    judge = FunctionJudge(lambda _q, text: 0.8 if "Hono" in text else 0.0, threshold=0.5)
    verdict = assess(query, units, lexical, judge)
    assert verdict.ok and verdict.probability == 0.8 and verdict.judge == "function"
    assert not assess(query, units, lexical, FixedJudge(0.49, threshold=0.5)).ok


def test_a_request_to_write_is_refused_however_relevant(lexical: LexicalIndex) -> None:
    judge = FixedJudge(1.0)
    verdict = assess(_query("Write a poem about Fastify", lexical), [_unit("fastify")],
                     lexical, judge)  # fmt: skip
    assert not verdict.ok and verdict.writing == "a poem" and judge.calls == []


# -- the feature judge ---------------------------------------------------------------------
def test_the_feature_judge_applies_its_fitted_weights_and_threshold() -> None:
    unit = _unit("fastify", 0.6)
    weights = {f: 0.0 for f in FEATURES} | {"evidence": 10.0}
    judge = FeatureJudge({"weights": weights, "bias": -6.0, "threshold": 0.3})
    [p] = judge.judge(None, [unit], Signals())  # type: ignore[arg-type]
    assert p == pytest.approx(0.5)  # sigmoid(10 × 0.6 − 6)
    assert judge.threshold == 0.3
    assert FeatureJudge({"threshold": 0.3}, threshold=0.7).threshold == 0.7  # the setting wins
    # A signal with a negative weight lowers the probability.
    penalised = FeatureJudge({"weights": weights | {"passing": -2.0}, "bias": -6.0})
    assert penalised.judge(None, [unit], Signals(passing=True))[0] < p  # type: ignore[arg-type]
