"""What the corpus does not cover, flagged on every edge: the service, HTTP (JSON and the SSE
`done` event), the CLI (text and --json), Slack Block Kit and the web page.

An answer about a covered topic that also names something the corpus never mentions carries
`uncovered` (those names), and its text starts with the note in prompts/uncovered.md. A
question only about uncovered things is refused, and a refusal carries no `uncovered` list
(the gate's trace still names what was missing).
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.cli import cli
from assistant.server.app import create_app
from assistant.settings import REPO_ROOT
from assistant.slack.blocks import answer_message
from tests.helpers.api import build_app, client_for, sse_events

# Covered (the Python background-job section) + one name the corpus never mentions.
MIXED = "celery or dramatiq for python background jobs"
MIXED_NAME = "dramatiq"
# The eval set's mixed FastAPI case: FastAPI is covered, Tortoise ORM is not.
TORTOISE = "Should we pair FastAPI with Tortoise ORM?"
# Only about something the corpus never mentions: nothing to answer, a refusal.
GLEAM = "Which ORM pairs well with Gleam?"

NOTE = (REPO_ROOT / "prompts" / "uncovered.md").read_text(encoding="utf-8").strip()
NOTE_HEAD, _, NOTE_TAIL = NOTE.partition("{names}")  # "The corpus says nothing about " …


def flagged(uncovered: list[str], name: str) -> bool:
    return any(name.lower() in u.lower() for u in uncovered)


def assert_covers_the_rest(data: dict, name: str) -> None:
    """Answered (not refused), `name` flagged, and the text says so before anything else."""
    assert data["refused"] is False, data["answer"][:300]
    assert flagged(data["uncovered"], name), data["uncovered"]
    first = data["answer"].split("\n", 1)[0]
    assert first.startswith(NOTE_HEAD), data["answer"][:300]
    assert NOTE_TAIL.strip() in first, first
    for u in data["uncovered"]:
        assert u in first, (u, first)
    assert data["citations"], "the covered part is answered from the corpus"


def assert_refused_unflagged(data: dict) -> None:
    assert data["refused"] is True, data["answer"][:300]
    assert data["uncovered"] == [], data["uncovered"]
    assert not data["answer"].startswith(NOTE_HEAD)


# -- the service ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed(corpus_assistant):
    return corpus_assistant.ask(MIXED, trace=True)


@pytest.fixture(scope="module")
def gleam(corpus_assistant):
    return corpus_assistant.ask(GLEAM, trace=True)


def test_service_answers_the_covered_part_and_flags_the_rest(mixed) -> None:
    assert_covers_the_rest(mixed.to_dict(), MIXED_NAME)
    assert flagged(mixed.trace["gate"]["uncovered"], MIXED_NAME)


def test_a_covered_name_beside_an_uncovered_one_is_never_answered_unflagged(
    corpus_assistant,
) -> None:
    # Whether the covered part (FastAPI) answers is the relevance judge's call; what an
    # answer may never do is leave out that the corpus lacks Tortoise.
    answer = corpus_assistant.ask(TORTOISE, trace=True)
    if answer.refused:
        assert flagged(answer.trace["gate"]["unknown"], "Tortoise"), answer.trace["gate"]
    else:
        assert_covers_the_rest(answer.to_dict(), "Tortoise")


def test_service_refuses_a_question_only_about_an_uncovered_name(gleam) -> None:
    assert_refused_unflagged(gleam.to_dict())
    # the refusal carries no list, but the gate's trace says what the corpus lacks
    assert gleam.trace["gate"]["ok"] is False
    assert flagged(gleam.trace["gate"]["uncovered"], "Gleam"), gleam.trace["gate"]
    # … and the refusal itself says what the corpus lacks, then its closest sections.
    first = gleam.answer.splitlines()[0]
    assert first.startswith("The corpus doesn't cover this question") and "Gleam" in first
    assert gleam.related_sections


# -- HTTP -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(corpus_assistant, model_cache, tmp_path_factory) -> TestClient:
    app = build_app(corpus_assistant, model_cache, tmp_path_factory.mktemp("uncovered-db"))
    with client_for(app) as client:
        yield client


def test_http_ask_json_carries_uncovered(client) -> None:
    r = client.post("/v1/ask", json={"question": MIXED})
    assert r.status_code == 200, r.text
    assert_covers_the_rest(r.json(), MIXED_NAME)


def test_http_refusal_carries_an_empty_uncovered_list(client) -> None:
    r = client.post("/v1/ask", json={"question": GLEAM})
    assert r.status_code == 200, r.text
    data = r.json()
    assert "uncovered" in data  # always present: [] on a refusal, not missing
    assert_refused_unflagged(data)


def test_http_stream_done_event_carries_uncovered(client) -> None:
    with client.stream("POST", "/v1/ask/stream", json={"question": MIXED}) as r:
        assert r.status_code == 200
        events = sse_events(r.read().decode())
    kind, done = events[-1]
    assert kind == "done", events[-1]
    assert_covers_the_rest(done, MIXED_NAME)
    streamed = "".join(d for k, d in events if k == "delta")
    assert streamed.startswith(NOTE_HEAD), streamed[:200]  # the note streams first too


# -- CLI --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(corpus_assistant, model_cache):
    data_dir = str(corpus_assistant.settings.data_dir)

    def invoke(*args: str):
        env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
        return CliRunner().invoke(cli, ["--data-dir", data_dir, *args], env=env)

    return invoke


def test_cli_prints_what_the_corpus_does_not_cover(run) -> None:
    result = run("ask", MIXED)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(NOTE_HEAD), result.output[:200]
    lines = [x for x in result.output.splitlines() if x.startswith("[not covered by the corpus:")]
    assert len(lines) == 1, result.output
    assert re.fullmatch(r"\[not covered by the corpus: (.+)\]", lines[0])
    assert MIXED_NAME in lines[0].lower()
    answer, _, sources = result.output.partition("Sources")
    assert lines[0] in answer and "[1]" in sources, "flag after the answer, before sources"


def test_cli_refusal_prints_no_flag(run) -> None:
    result = run("ask", GLEAM)
    assert result.exit_code == 0, result.output
    assert "[not covered by the corpus:" not in result.output


def test_cli_json_carries_uncovered(run) -> None:
    result = run("ask", "--json", MIXED)
    assert result.exit_code == 0, result.output
    assert_covers_the_rest(json.loads(result.output), MIXED_NAME)


# -- Slack ------------------------------------------------------------------------------------

CITATION = {
    "n": 1,
    "source": "backend-frameworks.md",
    "title": "Modern Backend Frameworks 2025",
    "section": "3. Python › FastAPI",
    "snippet": "Pydantic v2 validation, async, OpenAPI for free.",
    "score": 0.8,
}


MISSING = object()  # the key left out altogether (an answer dict from before the field)


def slack_answer(**over: object) -> dict:
    answer = {
        "question": TORTOISE,
        "answer": "The corpus says nothing about Tortoise ORM; what follows is what it covers "
        "of the question.\n\nFastAPI pairs with **SQLAlchemy 2.0** [1].",
        "citations": [CITATION],
        "refused": False,
        "uncovered": ["Tortoise ORM"],
    }
    merged = {**answer, **over}
    return {k: v for k, v in merged.items() if v is not MISSING}


def uncovered_contexts(message: dict) -> list[str]:
    return [
        e["text"]
        for b in message["blocks"]
        if b["type"] == "context"
        for e in b["elements"]
        if "Not covered by the corpus" in e.get("text", "")
    ]


def test_slack_answer_has_a_not_covered_context_block() -> None:
    texts = uncovered_contexts(answer_message(slack_answer(), None))
    assert len(texts) == 1 and "Tortoise ORM" in texts[0], texts


def test_slack_not_covered_names_are_escaped() -> None:
    message = answer_message(slack_answer(uncovered=["<Tortoise & co>", "Gleam"]), None)
    (text,) = uncovered_contexts(message)
    assert "&lt;Tortoise &amp; co&gt;" in text and "Gleam" in text
    assert "<Tortoise" not in text and "& co" not in text


def test_slack_not_covered_block_comes_before_sources_and_buttons() -> None:
    blocks = answer_message(slack_answer(), "key-1")["blocks"]
    where = next(i for i, b in enumerate(blocks) if uncovered_contexts({"blocks": [b]}))
    sources = next(i for i, b in enumerate(blocks) if "*Sources*" in json.dumps(b))
    buttons = next(i for i, b in enumerate(blocks) if b["type"] == "actions")
    assert where < sources < buttons


@pytest.mark.parametrize(
    "over",
    [
        {"uncovered": []},
        {"uncovered": None},
        {"uncovered": MISSING},
        {"refused": True, "citations": []},  # a refusal stands on nothing: no flag either
    ],
    ids=["empty", "none", "missing", "refused"],
)
def test_slack_no_not_covered_block_without_uncovered(over: dict) -> None:
    message = answer_message(slack_answer(**over), None)
    assert uncovered_contexts(message) == [], message["blocks"]
    assert "Not covered by the corpus" not in json.dumps(message["blocks"])


# -- web page ---------------------------------------------------------------------------------
# tests/test_web_page.py drives Chromium with module-local fixtures (marked slow), nothing
# cheap to reuse here, so this is a STATIC string check of the page's source: the done handler
# renders `data.uncovered` into an element with class "uncovered" (as textContent, via el()).
# It proves the code is there, not that a browser shows it.

PAGE = REPO_ROOT / "assistant" / "server" / "web" / "index.html"


def renders_uncovered(html: str) -> bool:
    guard = re.search(
        r"if\s*\(\s*Array\.isArray\(data\.uncovered\)\s*&&\s*data\.uncovered\.length", html
    )
    render = re.search(
        r"""el\(\s*["']div["']\s*,\s*["']uncovered["']\s*,[^;]*data\.uncovered\.join\(""", html
    )
    styled = re.search(r"\.uncovered\s*\{", html)
    return bool(guard and render and styled)


def test_web_page_renders_uncovered_into_an_uncovered_element(corpus_assistant) -> None:
    assert renders_uncovered(PAGE.read_text(encoding="utf-8"))
    with TestClient(create_app(assistant=corpus_assistant)) as c:
        served = c.get("/").text
    assert renders_uncovered(served), "the page served at / is the one checked"
