"""`stackguide feedback export`: stored votes written as eval cases that the repo's own
case loader accepts, with expectations drafted from up-voted answers and a REVIEW marker
on down-votes."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.evaluation.cases import load_dataset, load_file
from assistant.evaluation.metrics import score_case
from assistant.models import Answer, Citation
from assistant.service import Assistant
from assistant.settings import REPO_ROOT
from assistant.slack.feedback import REVIEW_FACT, draft_facts
from assistant.slack.handlers import SLACK_OWNER, SlackBot, thread_conversation_id
from tests.conftest import make_settings


@pytest.fixture
def voted(corpus_assistant, model_cache, tmp_path):
    """Votes cast the way the Slack handlers cast them, in this test's own database."""
    db = f"sqlite:///{tmp_path / 'conv.db'}"
    settings = make_settings(corpus_assistant.settings.data_dir, model_cache, database_url=db)
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    bot = SlackBot(assistant)

    def vote(question: str, vote: str, user: str = "U0ALICE", cid: str | None = None) -> dict:
        if cid:
            assistant.conversations.ensure(cid, SLACK_OWNER)
        answer = assistant.chat(question, cid, owner=SLACK_OWNER).to_dict()
        bot.record_feedback(bot._feedback_key(answer), vote, user)
        return answer

    thread = thread_conversation_id("T1", "C1", "1700000000.000100")
    vote("What is Hono?", "up")
    assistant.chat("Which ORM is the default for Python?", None, owner=SLACK_OWNER)  # not voted on
    vote("Which ORM is the default for Python?", "down", "U0BOB", cid=thread)
    vote("and for Rust?", "up", cid=thread)
    vote("Should we use Redux Toolkit or Zustand for client-side state in React?", "up")
    return assistant, db


def export(db: str, tmp_path, *args: str):
    env = {"STACKGUIDE_DATABASE_URL": db, "STACKGUIDE_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(cli, ["feedback", "export", *args], env=env,
                              catch_exceptions=False)  # fmt: skip


def test_export_writes_valid_eval_cases(voted, tmp_path) -> None:
    assistant, db = voted
    out = tmp_path / "review" / "feedback.yaml"
    result = export(db, tmp_path, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 4 case(s)" in result.output

    cases = load_file(out)  # the repo's own schema check
    assert [c.category for c in cases] == ["factual"] * 4
    hono, orm_down, rust, redux = cases
    assert hono.id.startswith("feedback-") and hono.question == "What is Hono?"
    assert not hono.refuse and hono.sections[0] == "1. TypeScript backends › Hono"
    assert ["edge-first"] in hono.facts
    assert orm_down.facts == [[REVIEW_FACT]] and not orm_down.refuse
    assert [t.content for t in rust.history] == [
        "Which ORM is the default for Python?",
        orm_down_answer(assistant),
    ]
    assert [t.role for t in rust.history] == ["user", "assistant"]
    assert redux.refuse and not redux.facts

    text = out.read_text(encoding="utf-8")
    assert "# 👎 down-vote by U0BOB via slack" in text
    assert "#   - **SQLAlchemy 2.0**" in text or "SQLAlchemy 2.0" in text  # the answer, for review
    assert "# [1]: Modern Backend Frameworks 2025" in text

    # Drafted up-vote cases hold for the answers they came from, and when asked again.
    rows = {r["question"]: r for r in assistant.feedback.all()}
    for case in (hono, rust, redux):
        stored = rows[case.question]["answer"]
        result = score_case(case, as_answer(stored))
        assert result.passed, (case.id, result.missing_facts, result.missing_sections)
        again = assistant.ask(case.question, case.history)
        assert score_case(case, again).passed, case.id
    # ...while a down-vote's case fails until someone reviews it
    assert not score_case(orm_down, as_answer(rows[orm_down.question]["answer"])).passed

    # and the file sits beside the real suite without clashing ids
    suite = tmp_path / "suite"
    shutil.copytree(REPO_ROOT / "evals" / "cases", suite)
    shutil.copy(out, suite / "zz_feedback.yaml")
    assert len(load_dataset(suite)) == len(load_dataset(REPO_ROOT / "evals" / "cases")) + 4


def orm_down_answer(assistant) -> str:
    [row] = [r for r in assistant.feedback.all() if r["vote"] == "down"]
    return row["answer"]["answer"]


def as_answer(data: dict) -> Answer:
    return Answer(**{**data, "citations": [Citation(**c) for c in data["citations"]]})


def test_export_filters_votes_and_writes_to_stdout(voted, tmp_path) -> None:
    _, db = voted
    down = export(db, tmp_path, "--vote", "down")
    assert down.exit_code == 0
    path = tmp_path / "down.yaml"
    path.write_text(down.output, encoding="utf-8")
    [case] = load_file(path)
    assert case.facts == [[REVIEW_FACT]]
    up = export(db, tmp_path, "--vote", "up", "--category", "multi_turn", "--out", str(path))
    assert up.exit_code == 0
    cases = load_file(path)
    assert len(cases) == 3 and {c.category for c in cases} == {"multi_turn"}
    assert export(db, tmp_path, "--category", "nope").exit_code == 2


def test_export_of_no_feedback_is_a_valid_empty_file(tmp_path) -> None:
    out = tmp_path / "empty.yaml"
    result = export(f"sqlite:///{tmp_path / 'none.db'}", tmp_path, "--out", str(out))
    assert result.exit_code == 0
    assert load_file(out) == []


def test_facts_are_drafted_from_the_answers_own_words() -> None:
    answer = (
        "- **Hono** — Edge-first. Runs on Cloudflare Workers, Bun, Deno, Node — one codebase. [1]\n"
        "- **Hono** — Use when: deploying to edge runtimes, SSR API routes. [1]\n"
        "1. SQLAlchemy 2.0 — Python's default, async support solid. [2]\n"
        "- **Hono** — Edge-first again. [1]"
    )
    assert draft_facts(answer) == [["edge-first"], ["deploying to edge runtimes"],
                                   ["python's default"]]  # fmt: skip
    assert draft_facts("") == []
