"""Conversations and feedback in a REAL PostgreSQL server (initdb + pg_ctl on 127.0.0.1,
installed with apt-get when missing; see tests/servers/postgres.py): the store itself, the
HTTP API on top of it, and what clients see when the database is down or goes away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from assistant.conversations.store import ConversationStore
from assistant.errors import BackendUnavailable, NotFound
from assistant.server.app import create_app
from assistant.service import LOCAL_OWNER as OWNER
from assistant.service import Assistant
from tests.conftest import make_settings
from tests.servers.postgres import (
    PostgresServer,
    PostgresUnavailable,
    ensure_postgres_installed,
    free_port,
    running_postgres,
)

pytestmark = pytest.mark.server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session, stopped (pg_ctl stop -m fast) at the end."""
    try:
        bin_dir = ensure_postgres_installed()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    with running_postgres(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """postgresql+psycopg://stackguide:PW@127.0.0.1:PORT/stackguide"""
    return postgres_server.url


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database of that server for one test: it sees only its own rows."""
    name = postgres_server.create_database()
    yield postgres_server.url_for(name)
    postgres_server.drop_database(name)


def count(pg: PostgresServer, url: str, sql: str, **params: object) -> int:
    """Look in the database directly (not through the code under test)."""
    with pg.connect(make_url(url).database) as conn:
        return conn.execute(sql, params).fetchone()[0]


def pg_assistant(corpus_assistant, model_cache, url: str) -> Assistant:
    """The shared, already ingested index; conversations in PostgreSQL at `url`."""
    settings = make_settings(corpus_assistant.settings.data_dir, model_cache, database_url=url)
    return Assistant(settings, embedder=corpus_assistant.embedder)


def as_stored(answer) -> dict:
    return json.loads(json.dumps(answer.to_dict(), default=str))


# -- the server ------------------------------------------------------------------------------


def test_the_server_is_a_real_postgresql_on_loopback_only(postgres_url, postgres_server) -> None:
    assert postgres_url.startswith("postgresql+psycopg://stackguide:")
    assert f"@127.0.0.1:{postgres_server.port}/stackguide" in postgres_url
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select version()")).scalar().startswith("PostgreSQL ")
            assert conn.execute(text("show listen_addresses")).scalar() == "127.0.0.1"
            assert conn.execute(text("select current_user")).scalar() == "stackguide"
            assert str(conn.execute(text("select inet_server_addr()")).scalar()) == "127.0.0.1"
    finally:
        engine.dispose()


# -- ConversationStore -----------------------------------------------------------------------


def test_store_round_trip_create_append_get_delete(pg_url, postgres_server, corpus_assistant):
    store = ConversationStore(pg_url)
    cid = store.create(OWNER)
    empty = store.get(cid, OWNER)
    assert empty.id == cid and empty.turns == [] and store.recent(cid, 12, OWNER) == []
    assert empty.created_at.tzinfo is not None

    answer = corpus_assistant.ask("What is Fastify's killer feature?")
    assert answer.citations, "the fixture question must be answerable"
    store.append(cid, answer.question, answer, OWNER)

    # a second store (own engine, own connections) reads what the first one wrote
    conv = ConversationStore(pg_url).get(cid, OWNER)
    assert [t["role"] for t in conv.turns] == ["user", "assistant"]
    assert conv.turns[0]["content"] == "What is Fastify's killer feature?"
    assert conv.turns[1]["content"] == answer.answer
    assert conv.turns[1]["answer"] == as_stored(answer)
    assert conv.turns[1]["answer"]["citations"][0]["section"] == answer.citations[0].section
    for turn in conv.turns:
        assert datetime.fromisoformat(turn["created_at"]).tzinfo is not None
    assert [t.content for t in store.recent(cid, 12, OWNER)] == [answer.question, answer.answer]
    assert [t.content for t in store.recent(cid, 1, OWNER)] == [answer.answer]  # the latest
    sql = "select count(*) from turns where conversation_id = %(cid)s"
    assert count(postgres_server, pg_url, sql, cid=cid) == 2

    store.delete(cid, OWNER)
    with pytest.raises(NotFound):
        store.get(cid, OWNER)
    with pytest.raises(NotFound):
        store.delete(cid, OWNER)
    with pytest.raises(NotFound):
        store.append(cid, answer.question, answer, OWNER)
    with pytest.raises(NotFound):
        store.recent(cid, 12, OWNER)
    assert count(postgres_server, pg_url, sql, cid=cid) == 0
    assert count(postgres_server, pg_url, "select count(*) from conversations") == 0


@pytest.mark.parametrize(
    "cid",
    ["nope", "0" * 32, "x" * 64, "x" * 65, "x" * 500, "ünïcödé ✓", "'; DROP TABLE turns; --"],
)
def test_unknown_ids_are_not_found(pg_url, postgres_server, corpus_assistant, cid) -> None:
    store = ConversationStore(pg_url)
    real = store.create(OWNER)
    answer = corpus_assistant.ask("What is Hono?")
    with pytest.raises(NotFound, match="no conversation"):
        store.get(cid, OWNER)
    with pytest.raises(NotFound):
        store.append(cid, "What is Hono?", answer, OWNER)
    with pytest.raises(NotFound):
        store.delete(cid, OWNER)
    # nothing was written, and the real conversation is untouched
    assert count(postgres_server, pg_url, "select count(*) from turns") == 0
    assert store.get(real, OWNER).turns == []


def test_feedback_is_added_and_listed_in_order(pg_url) -> None:
    from assistant.feedback.store import SqlFeedbackStore

    store = SqlFeedbackStore(pg_url)
    assert store.all() == []
    first = {"answer": "Use **Fastify** [1].", "citations": [{"n": 1, "section": "Fastify"}]}
    second = {"answer": "Hono — edge-first ✓", "nested": {"list": [1, 2.5, None, True]}}
    store.add("What is Fastify's killer feature?", first, "up", "U123", "slack")
    store.add("What is Hono?", second, "down", "alice@example.com", "web")

    rows = store.all()
    assert [(r["question"], r["vote"], r["user"], r["source"]) for r in rows] == [
        ("What is Fastify's killer feature?", "up", "U123", "slack"),
        ("What is Hono?", "down", "alice@example.com", "web"),
    ]
    assert rows[0]["answer"] == first and rows[1]["answer"] == second
    stamps = [datetime.fromisoformat(r["created_at"]) for r in rows]
    assert all(s.tzinfo is not None for s in stamps) and stamps[0] <= stamps[1]
    assert SqlFeedbackStore(pg_url).all() == rows  # stored, not kept in memory


def test_two_conversations_do_not_mix(pg_url, corpus_assistant, model_cache) -> None:
    assistant = pg_assistant(corpus_assistant, model_cache, pg_url)
    orm = assistant.chat("Which ORM is the default for Python?")
    hono = assistant.chat("What is Hono?")
    assert orm.conversation_id != hono.conversation_id
    orm2 = assistant.chat("and for Rust?", orm.conversation_id)
    hono2 = assistant.chat("and what about Fastify?", hono.conversation_id)
    assert orm2.standalone_question == "Which ORM is the default for Rust?"
    assert hono2.standalone_question == "What is Fastify?"

    store = assistant.conversations
    users = {
        cid: [t["content"] for t in store.get(cid, OWNER).turns if t["role"] == "user"]
        for cid in (orm.conversation_id, hono.conversation_id)
    }
    assert users == {
        orm.conversation_id: ["Which ORM is the default for Python?", "and for Rust?"],
        hono.conversation_id: ["What is Hono?", "and what about Fastify?"],
    }
    store.delete(orm.conversation_id, OWNER)
    assert len(store.get(hono.conversation_id, OWNER).turns) == 4


def test_concurrent_conversations_from_many_threads(pg_url, corpus_assistant) -> None:
    """The HTTP server answers from a thread pool: one store, many conversations at once."""
    store = ConversationStore(pg_url)
    answer = corpus_assistant.ask("What is Hono?")
    cids = [store.create(OWNER) for _ in range(8)]

    def talk(cid: str) -> None:
        for n in range(5):
            store.append(cid, f"{cid} question {n}", answer, OWNER)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(talk, cids))
    for cid in cids:
        turns = store.get(cid, OWNER).turns
        assert [t["role"] for t in turns] == ["user", "assistant"] * 5
        assert [t["content"] for t in turns[::2]] == [f"{cid} question {n}" for n in range(5)]
        assert all(t["content"] == answer.answer for t in turns[1::2])


def test_concurrent_appends_to_one_conversation_keep_question_answer_pairs(pg_url) -> None:
    from assistant.models import Answer

    store = ConversationStore(pg_url)
    for _trial in range(3):
        cid = store.create(OWNER)

        def append(n: int, cid: str = cid) -> None:
            reply = Answer(question=f"q{n}", answer=f"a{n}", citations=[], refused=False,
                           backend="extractive")  # fmt: skip
            store.append(cid, f"q{n}", reply, OWNER)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(append, range(16)))
        turns = store.get(cid, OWNER).turns
        pairs = [(q["content"], a["content"]) for q, a in zip(turns[::2], turns[1::2], strict=True)]
        assert [t["role"] for t in turns] == ["user", "assistant"] * 16
        assert all(q[1:] == a[1:] for q, a in pairs), pairs


# -- the HTTP API on PostgreSQL --------------------------------------------------------------


def test_http_conversation_on_postgres(pg_url, postgres_server, corpus_assistant, model_cache):
    app = create_app(assistant=pg_assistant(corpus_assistant, model_cache, pg_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/v1/ask", json={"question": "Which ORM is the default for Python?"})
        assert first.status_code == 200, first.text
        data = first.json()
        assert not data["refused"] and data["citations"] and "SQLAlchemy" in data["answer"]
        cid = data["conversation_id"]
        client.headers["X-Conversation-Token"] = data["conversation_token"]

        second = client.post("/v1/ask", json={"question": "and for Rust?", "conversation_id": cid})
        assert second.status_code == 200, second.text
        follow = second.json()
        assert follow["conversation_id"] == cid
        assert follow["standalone_question"] == "Which ORM is the default for Rust?"
        assert any(x in follow["answer"] for x in ("Diesel", "SeaORM", "sqlx"))

        conv = client.get(f"/v1/conversations/{cid}")
        assert conv.status_code == 200
        turns = conv.json()["turns"]
        assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
        assert turns[2]["standalone"] == follow["standalone_question"]
        assert turns[3]["answer"]["citations"] == follow["citations"]
        # really in PostgreSQL, not in a SQLite file somewhere
        sql = "select count(*) from turns where conversation_id = %(cid)s"
        assert count(postgres_server, pg_url, sql, cid=cid) == 4

        assert client.delete(f"/v1/conversations/{cid}").status_code == 204
        gone = client.get(f"/v1/conversations/{cid}")
        assert gone.status_code == 404 and cid in gone.json()["error"]["message"]
        assert client.delete(f"/v1/conversations/{cid}").status_code == 404
        assert count(postgres_server, pg_url, sql, cid=cid) == 0


def test_dead_database_is_a_clear_503(corpus_assistant, model_cache, caplog) -> None:
    port = free_port()  # bound and closed again: nothing listens there
    password, query_password = "pw-that-must-never-leak", "qpw-never-leak-either"
    url = (
        f"postgresql+psycopg://stackguide:{password}@127.0.0.1:{port}/stackguide"
        f"?password={query_password}&connect_timeout=5"
    )
    with pytest.raises(BackendUnavailable, match=r"^database unavailable$"):
        ConversationStore(url)
    logged = caplog.text
    assert password not in logged and query_password not in logged and "stackguide:" not in logged
    assert f"127.0.0.1:{port}" in logged  # the log still says which database it was

    app = create_app(assistant=pg_assistant(corpus_assistant, model_cache, url))
    with TestClient(app, raise_server_exceptions=False) as client:
        calls = [
            client.post("/v1/ask", json={"question": "What is Hono?"}),
            client.post("/v1/ask", json={"question": "What is Hono?", "conversation_id": "abc"}),
            client.get("/v1/conversations/abc"),
            client.delete("/v1/conversations/abc"),
        ]
        for r in calls:
            assert r.status_code == 503, (r.request.method, r.request.url, r.text)
            assert r.headers["content-type"].startswith("application/json")
            error = r.json()["error"]
            assert error["type"] == "BackendUnavailable"
            assert error["message"] == "database unavailable"  # nothing about where or who
            assert password not in r.text and query_password not in r.text
            assert "Traceback" not in r.text

        # the rest of the service stays up: health, and the stateless OpenAI surface
        assert client.get("/healthz").status_code == 200
        chat = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "What is Hono?"}]},
        )
        assert chat.status_code == 200 and "Hono" in chat.json()["choices"][0]["message"]["content"]
        # the stream reports the database as an `error` event, not as an internal failure
        with client.stream("POST", "/v1/ask/stream", json={"question": "What is Hono?"}) as r:
            body = r.read().decode()
        assert "event: error" in body and "BackendUnavailable" in body and password not in body
    assert password not in caplog.text and query_password not in caplog.text


def test_database_going_away_is_a_503(pg_url, postgres_server, corpus_assistant, model_cache):
    app = create_app(assistant=pg_assistant(corpus_assistant, model_cache, pg_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        ok = client.post("/v1/ask", json={"question": "What is Hono?"})
        assert ok.status_code == 200
        cid = ok.json()["conversation_id"]
        # drop the database under the running app (its pooled connections are terminated)
        postgres_server.drop_database(make_url(pg_url).database)
        for r in (
            client.post("/v1/ask", json={"question": "What is Hono?"}),
            client.get(f"/v1/conversations/{cid}"),
        ):
            assert r.status_code == 503, r.text
            assert r.json()["error"]["type"] == "BackendUnavailable"
            assert postgres_server.password not in r.text


def test_nul_byte_in_question_is_not_a_database_outage(pg_url, corpus_assistant, model_cache):
    app = create_app(assistant=pg_assistant(corpus_assistant, model_cache, pg_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/v1/ask", json={"question": "What is Hono?\u0000"})
    assert r.status_code in (200, 422), r.text


def test_nul_byte_in_conversation_id_is_not_found(pg_url, corpus_assistant, model_cache):
    app = create_app(assistant=pg_assistant(corpus_assistant, model_cache, pg_url))
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/v1/conversations/abc%00def")
    assert r.status_code == 404, r.text
