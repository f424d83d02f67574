"""An LLM stream never outlives its answer: a client that leaves /v1/ask/stream closes
the upstream request within a second or so, and STACKGUIDE_AGENT_TIMEOUT_S ends even a
stream that only sends keep-alives. Over real HTTP: uvicorn on 127.0.0.1, the `openai`
backend at a fake LLM that logs when each streamed reply is closed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from assistant.server.app import create_app
from tests.fake_llm_server import Drip, FakeLLMServer
from tests.helpers.llm import llm_assistant, wait_until
from tests.live_server import live_server

HONO = "What is Hono?"
CLOSE_WITHIN_S = 2.0


@pytest.fixture
def serve(corpus_assistant, model_cache, tmp_path):
    @contextmanager
    def run(llm_url: str, **extra: object) -> Iterator[str]:
        assistant = llm_assistant(
            corpus_assistant, model_cache, llm_url,
            database_url=f"sqlite:///{tmp_path / 'conv.db'}", **extra,
        )  # fmt: skip
        with live_server(create_app(assistant=assistant)) as url:
            yield url

    return run


def read_until(url: str, stop_after: str, count: int = 1, then=lambda: None) -> None:
    """POST /v1/ask/stream, read until `count` events of kind `stop_after`, call `then`,
    hang up."""
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", f"{url}/v1/ask/stream", json={"question": HONO}) as r,
    ):
        assert r.status_code == 200
        seen = 0
        for line in r.iter_lines():
            seen += line == f"event: {stop_after}"
            if seen == count:
                then()
                return
    raise AssertionError(f"the stream ended before {count} {stop_after} events")


def closed(llm: FakeLLMServer) -> bool:
    return bool(llm.streams) and all(s.closed is not None for s in llm.streams)


def test_a_client_that_leaves_mid_answer_closes_the_llm_stream(serve) -> None:
    with (
        FakeLLMServer(respond=lambda body: Drip(interval_s=0.05)) as llm,
        serve(llm.url) as url,
    ):
        read_until(url, "delta", count=2)  # the model is writing, tokens reach the client
        took = wait_until(lambda: closed(llm), CLOSE_WITHIN_S, "the LLM stream closed")
    assert not llm.streams[-1].finished and took < CLOSE_WITHIN_S


def test_a_client_that_leaves_while_the_llm_is_silent_closes_it_too(serve) -> None:
    # No token comes (keep-alives only), so nothing wakes the answer's thread but the
    # cancellation itself.
    with (
        FakeLLMServer(respond=lambda body: Drip(interval_s=0.05, keepalive=True)) as llm,
        serve(llm.url) as url,
    ):
        read_until(url, "citations", then=lambda: wait_until(lambda: llm.streams, 5, "a call"))
        took = wait_until(lambda: closed(llm), CLOSE_WITHIN_S, "the LLM stream closed")
    assert not llm.streams[-1].finished and took < CLOSE_WITHIN_S


def test_the_agent_timeout_ends_a_stream_of_keep_alives(serve) -> None:
    # httpx's read timeout restarts with every byte: only the answer's budget can end it.
    drip = Drip(interval_s=0.05, keepalive=True, first="Hono is edge-first ")
    with FakeLLMServer(respond=lambda body: drip) as llm, serve(llm.url, agent_timeout_s=1.5,
                                                                   llm_timeout_s=10) as url:  # fmt: skip
        start = time.monotonic()
        r = httpx.post(f"{url}/v1/ask/stream", json={"question": HONO}, timeout=8)
        took = time.monotonic() - start
        wait_until(lambda: closed(llm), CLOSE_WITHIN_S, "the LLM stream closed")
    done = json.loads(r.text.rsplit("event: done\ndata: ", 1)[1])
    assert done["degraded"] and done["backend"] == "extractive" and done["citations"]
    assert "still writing after 1.5 s" in done["degraded_reason"]
    assert took < 5 and not any(s.finished for s in llm.streams)


def test_the_agent_timeout_bounds_an_answer_off_http_too(corpus_assistant, model_cache) -> None:
    # The CLI and Slack call the assistant directly: the same budget ends the stream.
    with FakeLLMServer(respond=lambda body: Drip(interval_s=0.05, keepalive=True)) as llm:
        assistant = llm_assistant(corpus_assistant, model_cache, llm.url, agent_timeout_s=1.5)
        start = time.monotonic()
        answer = assistant.ask(HONO)
        took = time.monotonic() - start
    assert answer.degraded and "after 1.5 s" in answer.degraded_reason
    assert took < 5
