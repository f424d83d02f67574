"""A turn no rule reads as a follow-up is searched alone and with the conversation before
it; the search in context answers only when its passages answer the turn's own words
nearly as well, and only once the gate has passed the turn on its own words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.grounding.in_context import CONTEXT_EVIDENCE, answers_the_turn
from assistant.grounding.scoring import ScoredUnit
from assistant.models import ChunkRecord, Hit, Turn
from assistant.service import Assistant
from tests.conftest import make_settings
from tests.helpers.units import scored

SETTINGS = """\
# Celery worker settings

## broker_pool_limit

The maximum number of connections that can be open in the broker connection pool.
The default out of the box is 10 connections; set it to None to disable the pool.

## worker_max_tasks_per_child

The maximum number of tasks a pool worker process can execute before it is replaced
with a new process. The default is no limit: a process runs tasks until it exits.

## worker_concurrency

The number of concurrent worker processes executing tasks. It defaults to the number
of CPUs available on the machine.

## result_expires

Time after which stored task results are deleted by the periodic cleanup task.
Results expire after one day by default.
"""

RECYCLE = "How do I recycle worker processes after a number of tasks?"
DEFAULT = "what's the default out of the box?"


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder) -> Assistant:
    docs = tmp_path_factory.mktemp("worker-docs")
    (docs / "workers.md").write_text(SETTINGS, encoding="utf-8")
    assistant = Assistant(make_settings(tmp_path_factory.mktemp("data"), model_cache),
                          embedder=embedder)  # fmt: skip
    assert assistant.ingest([docs]).ok
    return assistant


def cited(answer) -> set[str]:
    return {c.section.rsplit("›", 1)[-1].strip() for c in answer.citations}


def history(assistant: Assistant, question: str) -> list[Turn]:
    first = assistant.ask(question)
    assert not first.refused, first.answer
    return [Turn("user", question), Turn("assistant", first.answer)]


def test_asked_alone_the_turn_is_answered_from_its_own_words(workers: Assistant) -> None:
    alone = workers.ask(DEFAULT, trace=True)
    assert not alone.refused, alone.answer
    assert "broker_pool_limit" in cited(alone), alone.answer
    assert alone.trace["rewrite"] is None


def test_after_a_question_the_turn_is_answered_about_its_subject(workers: Assistant) -> None:
    answer = workers.ask(DEFAULT, history(workers, RECYCLE), trace=True)
    assert not answer.refused, answer.answer
    assert answer.citations[0].section.endswith("worker_max_tasks_per_child"), answer.answer
    assert "no limit" in answer.answer, answer.answer
    assert answer.trace["rewrite"] == "context"
    # Nothing was rewritten for the reader to check: the turn is answered as asked.
    assert answer.standalone_question is None


def test_the_conversation_never_passes_the_gate_for_a_turn_its_own_words_fail(
    workers: Assistant,
) -> None:
    # The recycling passage matches the conversation well; nothing says how much memory
    # a process needs, so the turn is refused however well its context is covered.
    answer = workers.ask("how much RAM should the machine have?", history(workers, RECYCLE),
                         trace=True)  # fmt: skip
    assert answer.refused, answer.answer


def _unit(score: float, intent_bonus: float = 0.0) -> ScoredUnit:
    hit = Hit(ChunkRecord(id="c", text="t", source="s.md", title="S", section="S", order=0), 1.0)
    return scored(hit, score=score, intent_bonus=intent_bonus)


def test_the_context_answers_when_its_best_evidence_for_the_turn_is_near_the_turns_own() -> None:
    own = [_unit(0.8), _unit(0.3)]
    assert answers_the_turn(own, [_unit(0.8 * CONTEXT_EVIDENCE + 0.01)])
    assert not answers_the_turn(own, [_unit(0.8 * CONTEXT_EVIDENCE - 0.01)])
    # The intent's help is no evidence: a unit is weighed on what it says.
    assert not answers_the_turn(own, [_unit(0.9, intent_bonus=0.5)])
    assert not answers_the_turn([], [_unit(0.9)])
    assert not answers_the_turn(own, [])
