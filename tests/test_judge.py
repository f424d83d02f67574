"""The optional LLM judge, through the real `openai` client, against a loopback server."""

from __future__ import annotations

import json

import pytest

from assistant.errors import BackendUnavailable, ConfigError
from assistant.evaluation.judge import Judge
from assistant.settings import Settings
from tests.fake_llm_server import FakeLLMServer


def _reply(prompt: str) -> str:
    if "factual statements" in prompt:
        return json.dumps({"statements": ["Fastify is schema-first.", "Fastify was made in 1850."]})
    if "CONTEXT" in prompt:
        return "Sure! " + json.dumps({"verdicts": [
            {"statement": "Fastify is schema-first.", "supported": True},
            {"statement": "Fastify was made in 1850.", "supported": False},
        ]})  # fmt: skip
    return json.dumps({"questions": ["What is Fastify's killer feature?"] * 3})


def test_judge_scores_faithfulness_and_relevancy(corpus_assistant) -> None:
    answer = corpus_assistant.ask("What is Fastify's killer feature?")
    with FakeLLMServer(_reply) as server:
        settings = Settings(llm_base_url=server.url, llm_model="fake", llm_api_key="k")
        judge = Judge(settings, corpus_assistant.prompts, corpus_assistant.embedder)
        scores = judge.score(answer)
    assert scores.faithfulness == 0.5
    assert scores.unsupported == ["Fastify was made in 1850."]
    assert scores.answer_relevancy == pytest.approx(1.0, abs=1e-3)
    assert "Schema-first" in server.prompts[1], "the cited passages are the judge's context"


def test_refusals_are_not_judged(corpus_assistant) -> None:
    refusal = corpus_assistant.ask("What's the capital of France?")
    with FakeLLMServer(_reply) as server:
        judge = Judge(
            Settings(llm_base_url=server.url, llm_model="fake"),
            corpus_assistant.prompts,
            corpus_assistant.embedder,
        )
        assert judge.score(refusal).faithfulness is None
        assert server.prompts == []


def test_judge_needs_a_configured_endpoint(corpus_assistant) -> None:
    with pytest.raises(ConfigError):
        Judge(Settings(), corpus_assistant.prompts, corpus_assistant.embedder)


def test_dead_endpoint_is_a_clear_error(corpus_assistant) -> None:
    answer = corpus_assistant.ask("What is Hono?")
    settings = Settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout_s=2)
    judge = Judge(settings, corpus_assistant.prompts, corpus_assistant.embedder)
    with pytest.raises(BackendUnavailable):
        judge.score(answer)
