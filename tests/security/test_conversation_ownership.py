"""A conversation belongs to whoever started it: the API key, or without keys the
conversation token handed out with its first answer. Everyone else gets the same 404 as
for an id that never existed, on every route that reads, continues or deletes it; Slack's
threads and HTTP callers cannot reach each other's."""

from __future__ import annotations

import json

import pytest

from assistant.errors import NotFound
from assistant.slack.handlers import SLACK_OWNER, SlackBot, thread_conversation_id
from tests.helpers.api import assert_error, build_app, client_for

KEY_A, KEY_B = "keyA-aaaaaaaaaaaaaaaa", "keyB-bbbbbbbbbbbbbbbb"
A, B = {"Authorization": f"Bearer {KEY_A}"}, {"X-API-Key": KEY_B}
FIRST = {"question": "Which ORM is the default for Python?"}


def stream_events(client, body: dict, headers: dict) -> tuple[int, list[tuple[str, dict]]]:
    with client.stream("POST", "/v1/ask/stream", json=body, headers=headers) as r:
        text = r.read().decode()
    events = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return r.status_code, events


def assert_not_found(r) -> None:
    assert_error(r, 404, "NotFound")


def everything_a_stranger_can_try(client, cid: str, headers: dict) -> list:
    follow = {"question": "and for Rust?", "conversation_id": cid}
    status, _ = stream_events(client, follow, headers)
    return [
        client.get(f"/v1/conversations/{cid}", headers=headers),
        client.post("/v1/ask", json=follow, headers=headers),
        client.delete(f"/v1/conversations/{cid}", headers=headers),
        status,
    ]


@pytest.fixture
def keyed(corpus_assistant, model_cache, tmp_path):
    app = build_app(corpus_assistant, model_cache, tmp_path, api_keys=f"{KEY_A},{KEY_B}")
    with client_for(app) as client:
        yield client


@pytest.fixture
def open_app(corpus_assistant, model_cache, tmp_path):
    with client_for(build_app(corpus_assistant, model_cache, tmp_path)) as client:
        yield client


def test_with_keys_a_conversation_is_its_keys_alone(keyed) -> None:
    first = keyed.post("/v1/ask", json=FIRST, headers=A).json()
    cid = first["conversation_id"]
    assert "conversation_token" not in first  # the key is what makes it A's

    *responses, stream_status = everything_a_stranger_can_try(keyed, cid, B)
    for r in responses:
        assert_not_found(r)
    assert stream_status == 404
    # nothing B did reached A's record: still one turn pair, and A can go on with it
    turns = keyed.get(f"/v1/conversations/{cid}", headers=A).json()["turns"]
    assert [t["content"] for t in turns[::2]] == [FIRST["question"]]
    follow = keyed.post("/v1/ask", json={"question": "and for Rust?", "conversation_id": cid},
                        headers={"X-API-Key": KEY_A})  # fmt: skip
    assert (
        follow.status_code == 200
        and follow.json()["standalone_question"] == "Which ORM is the default for Rust?"
    )
    status, events = stream_events(keyed, {"question": "and for Go?", "conversation_id": cid}, A)
    assert status == 200 and events[-1][0] == "done"
    assert keyed.delete(f"/v1/conversations/{cid}", headers=A).status_code == 204


def test_another_callers_conversation_looks_exactly_like_a_missing_one(keyed) -> None:
    cid = keyed.post("/v1/ask", json=FIRST, headers=A).json()["conversation_id"]
    theirs = keyed.get(f"/v1/conversations/{cid}", headers=B).json()
    missing = keyed.get(f"/v1/conversations/{'0' * 32}", headers=B).json()
    assert theirs["error"]["type"] == missing["error"]["type"] == "NotFound"
    assert theirs["error"]["message"].replace(cid, "ID") == missing["error"]["message"].replace(
        "0" * 32, "ID"
    )


def test_without_keys_the_conversation_token_is_the_key(open_app) -> None:
    first = open_app.post("/v1/ask", json=FIRST).json()
    cid, token = first["conversation_id"], first["conversation_token"]
    assert len(token) >= 32
    mine = {"X-Conversation-Token": token}

    for stranger in ({}, {"X-Conversation-Token": "guessed-" + token[8:]}):
        *responses, stream_status = everything_a_stranger_can_try(open_app, cid, stranger)
        for r in responses:
            assert_not_found(r)
        assert stream_status == 404

    follow = open_app.post(
        "/v1/ask", json={"question": "and for Rust?", "conversation_id": cid}, headers=mine
    )
    assert (
        follow.status_code == 200
        and follow.json()["standalone_question"] == "Which ORM is the default for Rust?"
    )
    assert len(open_app.get(f"/v1/conversations/{cid}", headers=mine).json()["turns"]) == 4


def test_a_streamed_conversation_hands_out_its_token_in_done(open_app) -> None:
    status, events = stream_events(open_app, FIRST, {})
    assert status == 200
    done = events[-1][1]
    token = done["conversation_token"]
    r = open_app.get(
        f"/v1/conversations/{done['conversation_id']}", headers={"X-Conversation-Token": token}
    )
    assert r.status_code == 200
    assert open_app.get(f"/v1/conversations/{done['conversation_id']}").status_code == 404


def test_the_stored_record_holds_no_token(open_app) -> None:
    first = open_app.post("/v1/ask", json=FIRST).json()
    token = first["conversation_token"]
    conv = open_app.get(
        f"/v1/conversations/{first['conversation_id']}", headers={"X-Conversation-Token": token}
    )
    assert token not in conv.text  # only a digest is kept, and not shown


def test_slack_threads_and_http_callers_cannot_reach_each_other(
    corpus_assistant, model_cache, tmp_path
) -> None:
    app = build_app(corpus_assistant, model_cache, tmp_path)
    assistant = app.state.assistant
    thread = thread_conversation_id("T1", "C1", "1700000000.000100")
    assistant.conversations.ensure(thread, SLACK_OWNER)
    assistant.chat("What is Hono?", thread, owner=SLACK_OWNER)

    with client_for(app) as client:
        for r in everything_a_stranger_can_try(client, thread, {})[:3]:
            assert_not_found(r)
        # and an HTTP conversation cannot be voted on, or taken over, from Slack
        first = client.post("/v1/ask", json=FIRST).json()
    http_cid = first["conversation_id"]
    bot = SlackBot(assistant)
    with pytest.raises(NotFound):
        bot.record_feedback(f"{http_cid}:1", "up", "U1")
    with pytest.raises(NotFound):
        assistant.conversations.ensure(http_cid, SLACK_OWNER)
    assert assistant.feedback.all() == []
    bot.record_feedback(f"{thread}:1", "up", "U1")  # its own thread's answer: fine
    assert len(assistant.feedback.all()) == 1


def test_conversations_stored_before_owners_existed_are_nobodys(tmp_path) -> None:
    """An old database gains the owner column; its Slack threads stay Slack's, and its
    other conversations are reachable by no caller (there is no owner to prove)."""
    from sqlalchemy import create_engine, text

    from assistant.conversations.store import ConversationStore

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = create_engine(url)
    with old.begin() as conn:
        conn.execute(text("CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY, "
                          "created_at DATETIME)"))  # fmt: skip
        conn.execute(text("INSERT INTO conversations VALUES ('abc', '2026-01-01'), "
                          "('slack-123', '2026-01-01')"))  # fmt: skip
    old.dispose()
    store = ConversationStore(url)
    assert store.get("slack-123", SLACK_OWNER).turns == []
    for owner in ("local", SLACK_OWNER, "token:x", "nobody"):
        with pytest.raises(NotFound):
            store.recent("abc", 1, owner)
    assert store.get("abc", None).id == "abc"  # an operator can still read it
