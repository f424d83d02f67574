"""The HTTP API: answers, streaming, conversations, the OpenAI-compatible surface
(driven by the official `openai` client over real HTTP), metrics and request ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assistant.server.app import create_app
from assistant.service import Assistant
from tests.conftest import make_settings
from tests.helpers.api import sse_events
from tests.live_server import live_server


@pytest.fixture
def app(corpus_assistant, tmp_path, model_cache):
    # The shared index, but conversations in this test's own SQLite file.
    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache,
        database_url=f"sqlite:///{tmp_path / 'conv.db'}",
    )  # fmt: skip
    return create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app)


def test_ask_returns_the_answer_object(client) -> None:
    r = client.post("/v1/ask", json={"question": "What is Fastify's killer feature?"})
    assert r.status_code == 200
    data = r.json()
    assert not data["refused"] and "Schema-first" in data["answer"]
    assert data["citations"][0]["section"].endswith("Fastify")
    assert data["conversation_id"] and "trace" not in data
    assert r.headers["x-request-id"]


def test_request_id_is_echoed(client) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"


def test_follow_ups_in_a_conversation_are_understood(client) -> None:
    first = client.post("/v1/ask", json={"question": "Which ORM is the default for Python?"}).json()
    cid = first["conversation_id"]
    mine = {"X-Conversation-Token": first["conversation_token"]}  # no API keys: the token
    second = client.post(
        "/v1/ask", json={"question": "and for Rust?", "conversation_id": cid}, headers=mine
    ).json()
    assert second["standalone_question"] == "Which ORM is the default for Rust?"
    assert any(x in second["answer"] for x in ("Diesel", "SeaORM", "sqlx"))
    assert "conversation_token" not in second  # handed out once, when it starts
    turns = client.get(f"/v1/conversations/{cid}", headers=mine).json()["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[3]["answer"]["citations"]
    assert client.delete(f"/v1/conversations/{cid}", headers=mine).status_code == 204
    assert client.get(f"/v1/conversations/{cid}", headers=mine).status_code == 404


def test_unknown_conversation_is_404(client) -> None:
    r = client.post("/v1/ask", json={"question": "What is Hono?", "conversation_id": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]


def test_stream_sends_citations_then_deltas_then_done(client) -> None:
    with client.stream("POST", "/v1/ask/stream", json={"question": "What is Hono?"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done"
    assert set(kinds[1:-1]) == {"delta"} and len(kinds) > 5
    done = events[-1][1]
    assert "".join(d for k, d in events if k == "delta") == done["answer"]
    assert events[0][1] == done["citations"]


def test_stream_rejects_bad_input_before_streaming(client) -> None:
    r = client.post("/v1/ask/stream", json={"question": "   "})
    assert r.status_code == 422 and "empty" in r.json()["error"]["message"]


def test_stream_failure_is_an_error_event(client, app, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.assistant, "events", broken)  # what stream() runs
    with client.stream("POST", "/v1/ask/stream", json={"question": "What is Hono?"}) as r:
        events = sse_events(r.read().decode())
    assert events == [("error", {"type": "internal", "message": "the answer failed; see logs"})]


def test_refusal_over_http(client) -> None:
    data = client.post("/v1/ask", json={"question": "What's the capital of France?"}).json()
    assert data["refused"] and data["citations"] == []


def test_metrics_count_requests_answers_and_refusals(client) -> None:
    client.post("/v1/ask", json={"question": "What is Hono?"})
    client.post("/v1/ask", json={"question": "What's the capital of France?"})
    text = client.get("/metrics").text
    assert 'stackguide_answers_total{refused="true"} 1.0' in text
    assert 'stackguide_answers_total{refused="false"} 1.0' in text
    assert 'stackguide_requests_total{route="/v1/ask",status="200"} 2.0' in text
    assert "stackguide_retrieval_seconds_count 2.0" in text
    assert "stackguide_request_seconds_bucket" in text


def test_readyz_and_openapi(client) -> None:
    assert client.get("/readyz").json()["status"] == "ready"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/ask/stream", "/v1/chat/completions", "/v1/models"} <= set(paths)


def test_readyz_is_503_without_an_index(tmp_path, model_cache, embedder) -> None:
    settings = make_settings(tmp_path / "d", model_cache, corpus_dir=tmp_path / "missing")
    client = TestClient(create_app(assistant=Assistant(settings, embedder=embedder)))
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "not ready"


def test_cors_is_off_by_default_and_configurable(corpus_assistant, model_cache) -> None:
    origin = {"Origin": "https://team.example", "Access-Control-Request-Method": "POST"}
    off = TestClient(create_app(assistant=corpus_assistant))
    assert "access-control-allow-origin" not in off.options("/v1/ask", headers=origin).headers
    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache, cors_origins="https://team.example"
    )
    on = TestClient(create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder)))
    allowed = on.options("/v1/ask", headers=origin).headers
    assert allowed["access-control-allow-origin"] == "https://team.example"


def test_openai_client_plain_and_streaming(app) -> None:
    from openai import OpenAI

    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["stackguide"]
        done = client.chat.completions.create(
            model="stackguide",
            messages=[{"role": "user", "content": "What is Fastify's killer feature?"}],
        )
        content = done.choices[0].message.content
        assert "Schema-first" in content and "\nSources:\n[1] " in content
        extra = done.model_extra
        assert extra["citations"][0]["section"].endswith("Fastify")

        stream = client.chat.completions.create(
            model="stackguide",
            messages=[
                {"role": "user", "content": "Which ORM is the default for Python?"},
                {"role": "assistant", "content": "SQLAlchemy 2.0 [1]."},
                {"role": "user", "content": "and for Rust?"},
            ],
            stream=True,
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        assert any(x in text for x in ("Diesel", "SeaORM", "sqlx"))
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert chunks[-1].model_extra["citations"]


def test_openai_surface_needs_a_user_message_last(client) -> None:
    r = client.post(
        "/v1/chat/completions",
        json={"model": "stackguide", "messages": [{"role": "assistant", "content": "hi"}]},
    )
    assert r.status_code == 422


@pytest.mark.parametrize("limit", [1, 3])
def test_answers_are_computed_at_most_answer_concurrency_at_once(
    corpus_assistant, tmp_path, model_cache, limit
) -> None:
    import asyncio
    import threading
    import time

    import httpx

    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache, answer_concurrency=limit,
        database_url=f"sqlite:///{tmp_path / 'conv.db'}",
    )  # fmt: skip
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    running, peak, lock = [0], [0], threading.Lock()
    real_chat = assistant.chat

    def slow_chat(*args, **kwargs):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)  # long enough for every request to be in flight at once
        try:
            return real_chat(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    assistant.chat = slow_chat
    app = create_app(assistant=assistant)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            replies = await asyncio.gather(
                *(http.post("/v1/ask", json={"question": "What is Hono?"}) for _ in range(6))
            )
        return [r.status_code for r in replies]

    assert asyncio.run(burst()) == [200] * 6
    assert peak[0] == limit
