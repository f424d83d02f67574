"""What an LLM endpoint says when it fails never reaches a client or a log: endpoints echo
what they were sent ("Incorrect API key provided: sk-…"). Every edge reports a fixed
reason with the status code instead: /v1/ask (its trace too), the stream's `done` and
`error` events, /v1/chat/completions, the stored conversation, and the log lines."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from assistant.server.app import create_app
from assistant.server.owners import TOKEN_HEADER
from tests.fake_llm_server import FakeLLMServer, Garbage, Status
from tests.helpers.llm import llm_assistant

HONO = "What is Hono?"
SECRET = "sk-test-SECRET123"
ECHO = json.dumps({"error": {"message": f"Incorrect API key provided: {SECRET}.",
                             "type": "invalid_request_error", "code": "invalid_api_key"}})  # fmt: skip
LEAK = json.dumps({"error": {"message": f"upstream failed, request had key {SECRET}"}})

# (what the endpoint answers, the reason every edge shows)
FAULTS = {
    "401": (Status(401, body=ECHO), "the endpoint refused the API key (401)"),
    "403": (Status(403, body=ECHO), "the endpoint refused the API key (403)"),
    "404": (Status(404, body=LEAK), "model or endpoint not found (404)"),
    "400": (Status(400, body=LEAK), "the endpoint rejected the request (400)"),
    "422": (Status(422, body=LEAK), "the LLM endpoint answered 422"),
    "429": (Status(429, body=LEAK), "the LLM endpoint is rate-limiting (429)"),
    "500": (Status(500, body=LEAK), "the LLM endpoint failed (500)"),
    "502-html": (Status(502, body=f"<html>{SECRET}</html>"), "the LLM endpoint failed (502)"),
    "garbage": (Garbage(f"not json {SECRET}".encode()), "the LLM sent a malformed reply"),
}


@pytest.fixture
def client_for(corpus_assistant, model_cache, tmp_path):
    def build(url: str, **extra: object) -> TestClient:
        assistant = llm_assistant(
            corpus_assistant, model_cache, url, llm_api_key=SECRET,
            database_url=f"sqlite:///{tmp_path / 'conv.db'}", **extra,
        )  # fmt: skip
        return TestClient(create_app(assistant=assistant))

    return build


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]):
    """Everything logged (from DEBUG up) and written to stdout/stderr."""
    caplog.set_level(logging.DEBUG)
    return lambda: caplog.text + "".join(capfd.readouterr())


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
def test_an_endpoint_error_shows_a_fixed_reason_everywhere(client_for, logs, fault) -> None:
    reply, reason = FAULTS[fault]
    with FakeLLMServer(respond=lambda body: reply) as server:
        client = client_for(server.url)
        asked = client.post("/v1/ask", json={"question": HONO, "trace": True})
        with client.stream("POST", "/v1/ask/stream", json={"question": HONO}) as r:
            streamed = r.read().decode()
        completion = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": HONO}]}
        )
        data = asked.json()
        token = data.get("conversation_token")
        stored = client.get(f"/v1/conversations/{data['conversation_id']}",
                            headers={TOKEN_HEADER: token} if token else {})  # fmt: skip
    assert server.requests  # the endpoint was asked, and failed
    assert asked.status_code == 200 and data["degraded"] and data["citations"]
    assert data["degraded_reason"] == reason, data["degraded_reason"]
    done = json.loads(streamed.rsplit("event: done\ndata: ", 1)[1])
    assert done["degraded_reason"] == reason
    assert completion.json()["stackguide"]["degraded_reason"] == reason
    assert stored.status_code == 200 and reason in stored.text
    for name, text in [("/v1/ask", asked.text), ("stream", streamed),
                       ("chat/completions", completion.text), ("conversation", stored.text),
                       ("logs", logs())]:  # fmt: skip
        assert SECRET not in text, name


def test_with_fallback_error_the_error_is_the_fixed_reason(client_for, logs) -> None:
    with FakeLLMServer(respond=lambda body: Status(401, body=ECHO)) as server:
        client = client_for(server.url, llm_fallback="error")
        asked = client.post("/v1/ask", json={"question": HONO})
        with client.stream("POST", "/v1/ask/stream", json={"question": HONO}) as r:
            streamed = r.read().decode()
        completion = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": HONO}]}
        )
    assert asked.status_code == completion.status_code == 503
    assert asked.json()["error"] == {"type": "LLMError",
                                     "message": "the endpoint refused the API key (401)"}  # fmt: skip
    assert "event: error" in streamed and "refused the API key (401)" in streamed
    for text in (asked.text, streamed, completion.text, logs()):
        assert SECRET not in text


def test_the_log_names_the_error_class_and_status(client_for, caplog) -> None:
    caplog.set_level(logging.INFO)
    with FakeLLMServer(respond=lambda body: Status(401, body=ECHO)) as server:
        client_for(server.url).post("/v1/ask", json={"question": HONO})
    failed = [r.getMessage() for r in caplog.records if "LLM call failed" in r.getMessage()]
    assert failed and "401" in failed[0] and "Error" in failed[0], failed
    assert SECRET not in caplog.text
