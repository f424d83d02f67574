"""The `openai` backend at every edge: the HTTP API (per-request backend, trace, SSE token
streaming, the OpenAI-compatible surface), the CLI (`--backend`, streaming to the
terminal, `--json`/`--trace`) and `stackguide eval --backend openai` with the judge."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.cli import cli
from assistant.server.app import create_app
from tests.fake_llm_server import FakeLLMServer, Text
from tests.helpers.llm import llm_assistant
from tests.test_api import sse_events
from tests.test_llm_generator import passage_numbers

HONO = "What is Hono?"
CITED = "Hono is edge-first: one codebase for Workers, Bun, Deno and Node [1]."


@pytest.fixture
def client_for(corpus_assistant, model_cache, tmp_path):
    def build(url: str, **extra: object) -> TestClient:
        assistant = llm_assistant(
            corpus_assistant, model_cache, url,
            database_url=f"sqlite:///{tmp_path / 'conv.db'}", **extra,
        )  # fmt: skip
        return TestClient(create_app(assistant=assistant))

    return build


def test_api_backend_per_request_and_trace_on_demand(client_for) -> None:
    with FakeLLMServer(respond=lambda body: Text(CITED)) as server:
        client = client_for(server.url, backend="auto")
        plain = client.post("/v1/ask", json={"question": HONO}).json()
        traced = client.post("/v1/ask", json={"question": HONO, "trace": True}).json()
        offline = client.post("/v1/ask", json={"question": HONO, "backend": "extractive"}).json()
    assert plain["backend"] == "openai" and plain["answer"] == CITED and "trace" not in plain
    assert plain["degraded"] is False and plain["citations_removed"] == []
    assert plain["degraded_reason"] is None
    assert traced["trace"]["generation"]["check"]["ok"] and traced["trace"]["retrieved"]
    assert offline["backend"] == "extractive" and len(server.requests) == 2


def test_api_openai_backend_without_an_llm_is_422(client) -> None:
    r = client.post("/v1/ask", json={"question": HONO, "backend": "openai"})
    assert r.status_code == 422 and "STACKGUIDE_LLM_MODEL" in r.json()["error"]["message"]
    assert r.json()["error"]["type"] == "BackendNotConfigured"
    r = client.post("/v1/ask/stream", json={"question": HONO, "backend": "openai"})
    assert r.status_code == 422  # before any event
    r = client.post("/v1/ask", json={"question": HONO, "backend": "gpt"})
    assert r.status_code == 422


@pytest.fixture
def client(corpus_assistant, model_cache, tmp_path):
    from assistant.service import Assistant
    from tests.conftest import make_settings

    settings = make_settings(corpus_assistant.settings.data_dir, model_cache,
                             database_url=f"sqlite:///{tmp_path / 'c.db'}")  # fmt: skip
    return TestClient(create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder)))


def test_sse_streams_the_models_tokens_then_the_checked_answer(client_for) -> None:
    with FakeLLMServer(respond=lambda body: Text(CITED, piece_chars=3)) as server:
        client = client_for(server.url)
        with client.stream("POST", "/v1/ask/stream", json={"question": HONO}) as r:
            events = sse_events(r.read().decode())
    kinds = [k for k, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done" and kinds.count("delta") > 10
    assert "".join(d for k, d in events if k == "delta") == CITED
    done = events[-1][1]
    assert done["replaced"] is False and done["backend"] == "openai" and "trace" not in done
    assert [c["n"] for c in done["citations"]] == [1]


def test_sse_done_replaces_an_answer_that_failed_the_check(client_for) -> None:
    with FakeLLMServer(respond=lambda body: Text("Hono is the fastest framework ever.")) as srv:
        client = client_for(srv.url)
        with client.stream("POST", "/v1/ask/stream", json={"question": HONO, "trace": True}) as r:
            events = sse_events(r.read().decode())
    streamed = "".join(d for k, d in events if k == "delta")
    done = events[-1][1]
    assert streamed == "Hono is the fastest framework ever."
    assert done["replaced"] and done["degraded"] and done["backend"] == "extractive"
    assert "claim" in done["degraded_reason"] or "cites no" in done["degraded_reason"]
    assert done["answer"] != streamed and done["citations"]
    assert done["trace"]["generation"]["draft"] == streamed


def test_openai_compatible_route_returns_only_checked_text(client_for) -> None:
    from openai import OpenAI

    from tests.live_server import live_server

    with FakeLLMServer(respond=lambda body: Text(CITED)) as server:
        app = client_for(server.url).app
        with live_server(app) as url:
            sg = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            reply = sg.chat.completions.create(
                model="stackguide", messages=[{"role": "user", "content": HONO}]
            )
            chunks = list(sg.chat.completions.create(
                model="stackguide", messages=[{"role": "user", "content": HONO}], stream=True
            ))  # fmt: skip
    content = reply.choices[0].message.content
    assert content.startswith(CITED) and "Sources:\n[1]" in content
    extra = reply.model_extra
    assert extra["stackguide"]["backend"] == "openai" and not extra["stackguide"]["degraded"]
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content


# -- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def run(corpus_assistant, model_cache):
    def invoke(url: str, *args: str, input: str | None = None, **env: str):
        env = {
            "STACKGUIDE_MODEL_CACHE_DIR": str(model_cache), "STACKGUIDE_LLM_BASE_URL": url,
            "STACKGUIDE_LLM_MODEL": "fake", "STACKGUIDE_LLM_MAX_RETRIES": "0", **env,
        }  # fmt: skip
        data_dir = str(corpus_assistant.settings.data_dir)
        return CliRunner().invoke(cli, ["--data-dir", data_dir, *args], env=env, input=input)

    return invoke


def test_cli_streams_the_answer_then_the_sources(run) -> None:
    with FakeLLMServer(respond=lambda body: Text(CITED)) as server:
        result = run(server.url, "ask", "--backend", "openai", HONO)
    assert result.exit_code == 0, result.output
    answer, _, sources = result.output.partition("Sources")
    assert answer.strip() == CITED
    assert "[1] Modern Backend Frameworks 2025" in sources and "› Hono" in sources


def test_cli_shows_the_checked_answer_when_it_differs(run) -> None:
    with FakeLLMServer(respond=lambda body: Text("Hono is the best at everything.")) as server:
        result = run(server.url, "ask", HONO)  # auto: the LLM is configured
    assert result.exit_code == 0, result.output
    streamed, _, rest = result.output.partition("[replaced: the LLM answer failed the citation")
    assert streamed.strip() == "Hono is the best at everything."
    assert "Edge-first" in rest and "Sources" in rest


def test_cli_json_and_trace(run) -> None:
    with FakeLLMServer(respond=lambda body: Text("Hono is edge-first [1][8].")) as server:
        plain = json.loads(run(server.url, "ask", "--json", HONO).output)
        traced = json.loads(run(server.url, "ask", "--json", "--trace", HONO).output)
    assert plain["backend"] == "openai" and plain["citations_removed"] == [8]
    assert plain["degraded"] is False and plain["trace"] is None
    assert traced["trace"]["generation"]["check"]["removed"] == [8]
    assert traced["trace"]["generation"]["passages"][0]["via"] == "retrieved"


def test_cli_rejects_an_unknown_or_unconfigured_backend(run) -> None:
    result = run("http://127.0.0.1:9/v1", "ask", "--backend", "gpt", HONO)
    assert result.exit_code == 2 and "gpt" in result.output
    result = run("http://127.0.0.1:9/v1", "ask", "--backend", "openai", HONO,
                 STACKGUIDE_LLM_MODEL="")  # fmt: skip
    assert result.exit_code == 2 and "needs STACKGUIDE_LLM_MODEL" in result.output


# -- eval -------------------------------------------------------------------------------------

CASES = """\
category: factual
cases:
  - id: factual-fastify
    question: "What's the standout feature people pick Fastify for?"
    expect:
      refuse: false
      facts: [["schema-first", "json schema"]]
      sections: ["Fastify"]
  - id: factual-hono
    question: "What is Hono?"
    expect:
      refuse: false
      facts: [["edge-first"]]
      sections: ["Hono"]
"""
REFUSALS = """\
category: out_of_scope
cases:
  - id: out_of_scope-capital
    question: "What's the capital of France?"
    expect:
      refuse: true
"""


def eval_reply(body: dict) -> Text:
    prompt = body["messages"][-1]["content"]
    if "factual statements" in prompt:
        return Text(json.dumps({"statements": ["Fastify is schema-first."]}))
    if "CONTEXT" in prompt:
        return Text(json.dumps({"verdicts": [{"statement": "x", "supported": True}]}))
    if "questions" in prompt and "Passages:" not in prompt:
        asked = "What is Hono?" if "Hono" in prompt else "What is Fastify's standout feature?"
        return Text(json.dumps({"questions": [asked] * 3}))
    if "Fastify" in prompt.split("Passages:")[0]:
        n = passage_numbers(body, "Fastify")[0]
        return Text(f"Fastify is schema-first: JSON Schema validation is its killer feature [{n}].")
    n = passage_numbers(body, "Hono")[0]
    return Text(f"Hono is edge-first: it runs on Workers, Bun, Deno and Node [{n}].")


def test_eval_runs_the_suite_against_the_llm_with_the_judge(run, tmp_path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "factual.yaml").write_text(CASES)
    (cases / "out_of_scope.yaml").write_text(REFUSALS)
    floors = tmp_path / "thresholds.toml"
    floors.write_text("[thresholds]\ncitation_validity = 1.0\nrefusal_recall = 1.0\n")
    report = tmp_path / "report.json"
    with FakeLLMServer(respond=eval_reply) as server:
        result = run(server.url, "eval", "--backend", "openai", "--dataset", str(cases),
                     "--thresholds", str(floors), "--report", str(report))  # fmt: skip
    assert result.exit_code == 0, result.output
    overall = json.loads(report.read_text())["openai"]["overall"]
    assert overall["cases"] == 3 and overall["errors"] == 0
    assert overall["citation_validity"] == 1.0 and overall["refusal_recall"] == 1.0
    assert overall["judge_faithfulness"] == 1.0 and overall["judge_relevancy"] > 0.9
    assert overall["degraded_rate"] == 0.0
    assert "faithful" in result.output and "degraded" in result.output


def test_cli_chat_streams_llm_answers_with_follow_ups(run) -> None:
    def respond(body: dict) -> Text:
        if "Standalone question:" in body["messages"][-1]["content"]:
            return Text("Which TypeScript framework fits Bun?")
        return Text(CITED)

    with FakeLLMServer(respond=respond) as server:
        result = run(server.url, "chat", "--backend", "openai",
                     input="Which TypeScript framework fits edge runtimes?\nand for Bun?\n/quit\n")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.count(CITED) == 2 and result.output.count("Sources") == 2
    assert len(server.requests) == 3  # answer, rewrite of the follow-up, answer
    assert "Which TypeScript framework fits Bun?" in server.requests[2]["messages"][1]["content"]
