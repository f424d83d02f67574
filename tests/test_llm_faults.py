"""An endpoint that misbehaves on purpose: every fault ends in a cited extractive answer
flagged `degraded` with the reason, or (with `llm_fallback=error`) a clear
BackendUnavailable — HTTP 503, CLI exit 1 — and never a 500 or a hang: each case is
timed, and its bound asserted."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.errors import BackendUnavailable, LLMError
from tests.fake_llm_server import Drip, FakeLLMServer, Garbage, Slow, Status, Text
from tests.helpers.llm import assert_citations_resolve, llm_assistant

HONO = "What is Hono?"
GOOD = Text("Hono is edge-first [1].")
DEAD = "http://127.0.0.1:9/v1"  # the discard port: nothing listens, connections are refused


@pytest.fixture
def make(corpus_assistant, model_cache):
    def build(url: str, **extra: object):
        return llm_assistant(corpus_assistant, model_cache, url, **extra)

    return build


def scripted(*replies):
    """Reply with each in turn, then keep repeating the last."""
    queue = itertools.chain(replies, itertools.repeat(replies[-1]))
    return lambda body: next(queue)


def timed(fn):
    t = time.monotonic()
    result = fn()
    return result, time.monotonic() - t


def assert_degraded(answer, reason: str) -> None:
    assert answer.degraded and answer.backend == "extractive", answer
    assert reason in answer.degraded_reason, answer.degraded_reason
    assert answer.citations and not answer.refused
    assert_citations_resolve(answer)


def test_a_server_slower_than_the_timeout(make) -> None:
    with FakeLLMServer(respond=lambda body: Slow(30, GOOD)) as server:
        answer, took = timed(lambda: make(server.url, llm_timeout_s=1).ask(HONO))
    assert_degraded(answer, "timed out")
    assert took < 5


def test_429_with_retry_after_is_honoured_then_answered(make) -> None:
    reply = scripted(Status(429, {"Retry-After": "1"}), GOOD)
    with FakeLLMServer(respond=reply) as server:
        answer, took = timed(lambda: make(server.url, llm_max_retries=2).ask(HONO, trace=True))
    assert not answer.degraded and answer.backend == "openai"
    assert len(server.requests) == 2 and 1.0 <= took < 6
    assert "429" in answer.trace["generation"]["retries"][0]
    assert "retrying in 1.00 s" in answer.trace["generation"]["retries"][0]


def test_a_huge_retry_after_is_capped_and_retries_are_bounded(make) -> None:
    with FakeLLMServer(respond=lambda body: Status(429, {"Retry-After": "3600"})) as server:
        assistant = make(server.url, llm_max_retries=2, llm_retry_after_max_s=0.3)
        answer, took = timed(lambda: assistant.ask(HONO))
    assert_degraded(answer, "rate-limiting (429) after 3 attempts")
    assert len(server.requests) == 3 and took < 5


def test_a_retry_after_beyond_the_time_left_gives_up_at_once(make) -> None:
    with FakeLLMServer(respond=lambda body: Status(429, {"Retry-After": "30"})) as server:
        assistant = make(server.url, llm_max_retries=3, llm_retry_after_max_s=60,
                         agent_timeout_s=5)  # fmt: skip
        answer, took = timed(lambda: assistant.ask(HONO))
    assert_degraded(answer, "429")
    assert len(server.requests) == 1 and took < 3


def test_retry_after_as_an_http_date(make) -> None:
    from email.utils import formatdate

    reply = scripted(Status(503, {"Retry-After": formatdate(time.time() + 1, usegmt=True)}), GOOD)
    with FakeLLMServer(respond=reply) as server:
        answer, took = timed(lambda: make(server.url, llm_max_retries=1).ask(HONO))
    assert not answer.degraded and len(server.requests) == 2 and took < 6


def test_5xx_is_retried_then_degraded(make) -> None:
    with FakeLLMServer(respond=lambda body: Status(500)) as server:
        answer, took = timed(lambda: make(server.url, llm_max_retries=2).ask(HONO, trace=True))
    assert_degraded(answer, "the LLM endpoint failed (500) after 3 attempts")
    assert len(server.requests) == 3 and took < 8
    assert len(answer.trace["generation"]["retries"]) == 2


def test_one_5xx_then_an_answer(make) -> None:
    with FakeLLMServer(respond=scripted(Status(502), GOOD)) as server:
        answer = make(server.url, llm_max_retries=1).ask(HONO)
    assert not answer.degraded and len(server.requests) == 2


def test_connection_refused(make) -> None:
    answer, took = timed(lambda: make(DEAD, llm_max_retries=1).ask(HONO))
    assert_degraded(answer, "could not be reached")
    assert took < 5


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydantic, about the garbage it parsed
@pytest.mark.parametrize(
    "reply",
    [
        Garbage(),  # a 200 whose body is not JSON
        Garbage(b'{"choices": "nope"}'),  # JSON, not a completion
        Garbage(b"data: {not json\n\n", "text/event-stream"),  # a broken stream
        Garbage(b'data: {"choices": [{"delta": 7}]}\n\n', "text/event-stream"),
        Garbage(b"", "application/json"),
    ],
)
def test_garbage_replies(make, reply) -> None:
    with FakeLLMServer(respond=lambda body: reply) as server:
        answer, took = timed(lambda: make(server.url).ask(HONO, trace=True))
    assert answer.degraded and answer.backend == "extractive" and took < 5
    assert any(
        why in answer.degraded_reason for why in ("malformed", "empty answer", "cites no")
    ), answer.degraded_reason
    assert_citations_resolve(answer)


def test_empty_content(make) -> None:
    with FakeLLMServer(respond=lambda body: Text("")) as server:
        answer = make(server.url).ask(HONO)
    assert_degraded(answer, "the model returned an empty answer")


def test_a_model_that_ignores_the_format(make) -> None:
    reply = Text("As an AI language model I recommend Django for everything. It scales.")
    with FakeLLMServer(respond=lambda body: reply) as server:
        answer = make(server.url).ask(HONO)
    assert_degraded(answer, "cites no retrieved passage")
    assert "Django" not in answer.answer


def test_a_stream_that_never_ends_is_cut_at_the_deadline(make) -> None:
    with FakeLLMServer(respond=lambda body: Drip(interval_s=0.05)) as server:
        assistant = make(server.url, agent_timeout_s=1.5)
        events, took = timed(lambda: list(assistant.stream(HONO)))
    done = events[-1][1]
    assert done["degraded"] and "still writing after 1.5 s" in done["degraded_reason"]
    assert done["replaced"] is True and took < 5
    assert any(k == "delta" and "more" in d for k, d in events)  # it did stream meanwhile


def test_a_server_that_cannot_call_tools_is_asked_without_them(make) -> None:
    def respond(body: dict):
        if body.get("tools"):
            return Status(400, body='{"error": {"message": "tools are not supported"}}')
        return GOOD

    with FakeLLMServer(respond=respond) as server:
        answer = make(server.url).ask(HONO, trace=True)
    assert not answer.degraded and answer.backend == "openai"
    # the trace reaches clients: a fixed reason with the status, not the endpoint's body
    assert answer.trace["generation"]["tools"] == "the endpoint refused tool calling (400)"
    assert [bool(r.get("tools")) for r in server.requests] == [True, False]


def test_a_rejected_key_is_not_retried(make) -> None:
    with FakeLLMServer(respond=lambda body: Status(401)) as server:
        answer = make(server.url, llm_max_retries=3).ask(HONO)
    assert_degraded(answer, "refused the API key")
    assert len(server.requests) == 1


# -- llm_fallback=error: a clear error at every edge ------------------------------------------


def test_fallback_error_raises_backend_unavailable(make) -> None:
    with (
        FakeLLMServer(respond=lambda body: Status(500)) as server,
        pytest.raises(LLMError, match=r"failed \(500\)") as err,
    ):
        make(server.url, llm_fallback="error").ask(HONO)
    assert isinstance(err.value, BackendUnavailable)


def test_fallback_error_never_hides_a_failed_citation_check(make) -> None:
    # An unchecked answer is never returned: the check's fallback does not depend on it.
    with FakeLLMServer(respond=lambda body: Text("Rails is best.")) as server:
        answer = make(server.url, llm_fallback="error").ask(HONO)
    assert_degraded(answer, "citation check")


def test_http_503_and_sse_error_event(make, tmp_path) -> None:
    from assistant.server.app import create_app

    with FakeLLMServer(respond=lambda body: Status(500)) as server:
        assistant = make(server.url, llm_fallback="error",
                         database_url=f"sqlite:///{tmp_path / 'c.db'}")  # fmt: skip
        client = TestClient(create_app(assistant=assistant))
        r = client.post("/v1/ask", json={"question": HONO})
        assert r.status_code == 503
        assert r.json()["error"]["type"] == "LLMError" and "500" in r.json()["error"]["message"]
        with client.stream("POST", "/v1/ask/stream", json={"question": HONO}) as s:
            body = s.read().decode()
        assert s.status_code == 200 and "event: error" in body and "LLMError" in body
        r = client.post("/v1/chat/completions", json={"messages": [{"role": "user",
                                                                     "content": HONO}]})  # fmt: skip
        assert r.status_code == 503


def test_http_answers_degraded_by_default(make, tmp_path) -> None:
    from assistant.server.app import create_app

    with FakeLLMServer(respond=lambda body: Status(500)) as server:
        assistant = make(server.url, database_url=f"sqlite:///{tmp_path / 'c.db'}")
        client = TestClient(create_app(assistant=assistant))
        data = client.post("/v1/ask", json={"question": HONO}).json()
        completion = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": HONO}]}
        ).json()
        metrics = client.get("/metrics").text
    assert data["degraded"] and "500" in data["degraded_reason"] and data["citations"]
    assert "stackguide_answers_degraded_total 2.0" in metrics
    assert completion["stackguide"]["degraded"] and "Sources:" in completion["choices"][0][
        "message"]["content"]  # fmt: skip


def test_cli_exit_code_and_message(corpus_assistant, model_cache) -> None:
    from assistant.cli import cli

    env = {
        "STACKGUIDE_MODEL_CACHE_DIR": str(model_cache), "STACKGUIDE_LLM_BASE_URL": DEAD,
        "STACKGUIDE_LLM_MODEL": "m", "STACKGUIDE_LLM_MAX_RETRIES": "0",
    }  # fmt: skip
    args = ["--data-dir", str(corpus_assistant.settings.data_dir), "ask", "--backend", "openai"]
    runner = CliRunner()
    failed = runner.invoke(cli, [*args, HONO], env={**env, "STACKGUIDE_LLM_FALLBACK": "error"})
    assert failed.exit_code == 1
    assert "Error: the LLM endpoint could not be reached" in failed.output
    degraded = runner.invoke(cli, [*args, "--json", HONO], env=env)
    assert degraded.exit_code == 0
    data = json.loads(degraded.output)
    assert data["degraded"] and data["backend"] == "extractive" and data["citations"]


def test_a_stream_that_stalls_mid_way_times_out(make) -> None:
    # Headers and a first chunk, then silence longer than the timeout: a read timeout
    # raised by the HTTP client itself while iterating, not wrapped by the SDK.
    with FakeLLMServer(respond=lambda body: Drip(interval_s=10)) as server:
        answer, took = timed(lambda: make(server.url, llm_timeout_s=1).ask(HONO))
    assert_degraded(answer, "timed out")
    assert took < 5
