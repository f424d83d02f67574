"""The `openai` backend: any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp's
server) through `langchain-openai`, with the retrieval agent and checked citations.

The grounding gate has already decided the question is answerable. The model gets the
retrieved passages, numbered, may gather more with the corpus tools, and writes an answer
that cites them. Before it is returned, every `[n]` is checked against the passages the
model was shown (`grounding.citations`): unknown numbers are removed and reported; an answer
with an uncited claim, or no valid citation at all, is replaced by the extractive answer,
flagged `degraded` with the reason. So is an endpoint that fails (unless
`llm_fallback=error`, which raises `BackendUnavailable` instead).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator as Stream
from collections.abc import Sequence
from urllib.parse import urlparse

from assistant.agent.loop import run_agent
from assistant.agent.passages import Passage, Passages
from assistant.agent.step import Budget, ModelStep, ToolsRejected, watch_response
from assistant.agent.tools import CorpusTools
from assistant.errors import BackendNotConfigured, ConfigError, LLMError
from assistant.generators.base import Draft, Evidence, Generator
from assistant.grounding.citations import check_citations
from assistant.models import SNIPPET_CHARS, Citation, Turn
from assistant.prompts import Prompts
from assistant.settings import LLM_NEEDS, Settings
from assistant.streams import drain
from assistant.text import content_terms, shorten

log = logging.getLogger(__name__)
REFUSAL_MARK = "NO_ANSWER"  # the prompts' way for the model to say the passages don't answer
REWRITE_BUDGET_S = 20.0  # a rewrite is optional: the rule-based one is the fallback
REWRITE_MAX_CHARS = 300


def chat_model(settings: Settings):
    """A `ChatOpenAI` for the configured endpoint. Retries are ours (see ModelStep)."""
    try:
        import openai
        from langchain_openai import ChatOpenAI
    except ImportError as exc:  # pragma: no cover - a dependency, but say what to do
        raise ConfigError(
            "the openai backend needs langchain-openai: pip install langchain-openai openai"
        ) from exc
    base, model, key = settings.llm_endpoint()
    # OpenAI itself wants max_completion_tokens (what ChatOpenAI sends); other servers
    # (llama.cpp, older vLLM/Ollama) only read max_tokens and would otherwise never stop.
    extra = {} if _is_openai(base) else {"max_tokens": settings.llm_max_tokens}
    return ChatOpenAI(
        model=model,
        base_url=base,
        api_key=key or "not-needed",  # local servers take any key; the client needs one
        timeout=settings.llm_timeout_s,
        max_retries=0,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        use_responses_api=False,  # every OpenAI-compatible server speaks chat completions
        extra_body=extra or None,
        # lets an answer's deadline or cancellation shut the connection (see ModelStep)
        http_client=openai.DefaultHttpxClient(event_hooks={"response": [watch_response]}),
    )


def _is_openai(base: str | None) -> bool:
    return base is None or (urlparse(base).hostname or "").endswith("openai.com")


class OpenAIGenerator(Generator):
    name = "openai"
    streams = True

    def __init__(self, settings: Settings, prompts: Prompts, fallback: Generator) -> None:
        if not settings.llm_configured():
            raise BackendNotConfigured(f"the openai backend needs {LLM_NEEDS}")
        self.settings = settings
        self.prompts = prompts
        self.fallback = fallback
        self.llm = chat_model(settings)
        self.model = settings.llm_model
        self._stream_tools = True  # until the endpoint shows it cannot (see ModelStep)

    def _step(self, budget: Budget, retries: int | None = None) -> ModelStep:
        s = self.settings
        return ModelStep(
            self.llm,
            timeout_s=s.llm_timeout_s,
            max_retries=s.llm_max_retries if retries is None else retries,
            retry_after_max_s=s.llm_retry_after_max_s,
            budget=budget,
            hold=REFUSAL_MARK,
            stream_tools=self._stream_tools,
        )

    def generate(self, evidence: Evidence) -> Draft:
        return drain(self.stream(evidence))

    def candidates(self, evidence: Evidence) -> list[Citation]:
        _, first = _retrieved(evidence)
        return [Citation.of(p.n, p.chunk, _clip(p.chunk.text), p.score) for p in first]

    def stream(self, evidence: Evidence) -> Stream[str, None, Draft]:
        from langchain_core.messages import HumanMessage, SystemMessage

        t0 = time.perf_counter()
        s = self.settings
        passages, first = _retrieved(evidence)
        tools = (
            CorpusTools(evidence.corpus, passages)
            if evidence.corpus is not None and s.agent_max_steps > 0
            else None
        )
        budget = Budget(s.agent_timeout_s)
        step = self._step(budget)
        trace: dict = {"model": self.model, "passages": []}

        def messages(with_tools: bool) -> list:
            system = self.prompts.render("llm/system.md", no_answer=REFUSAL_MARK)
            if with_tools:
                system += "\n\n" + self.prompts.render(
                    "llm/agent.md", max_steps=str(s.agent_max_steps)
                )
            user = self.prompts.render(
                "llm/answer.md",
                question=evidence.query.standalone,
                passages=Passages.render(first),
                no_answer=REFUSAL_MARK,
            )
            return [SystemMessage(system), HumanMessage(user)]

        answer_now = self.prompts.render("llm/answer_now.md", no_answer=REFUSAL_MARK)
        try:
            try:
                run = yield from run_agent(
                    step, messages(tools is not None), tools, s.agent_max_steps, answer_now
                )
            except ToolsRejected as exc:  # no tool calling there: answer from the hits
                trace["tools"] = str(exc)
                run = yield from run_agent(step, messages(False), None, 0, answer_now)
        except LLMError as exc:
            self._stream_tools = step.stream_tools
            trace.update(self._calls(step, t0), passages=passages.used(), error=str(exc))
            if s.llm_fallback == "error":
                raise
            return self._fall_back(evidence, str(exc), trace)
        self._stream_tools = step.stream_tools
        trace.update(self._calls(step, t0), steps=run.steps, passages=passages.used())
        trace["draft"] = run.text
        text = run.text.strip()
        if text.startswith(REFUSAL_MARK):
            return Draft("", refused=True, trace=trace)
        check = check_citations(text, passages.numbers())
        trace["check"] = {
            "ok": check.ok, "cited": check.cited, "removed": check.removed,
            "uncited": check.uncited,
        }  # fmt: skip
        if not check.ok:
            return self._fall_back(
                evidence, f"the LLM answer failed the citation check: {check.reason}", trace,
                removed=check.removed,
            )  # fmt: skip
        return Draft(
            check.text,
            passages.citations(check.cited, check.text),
            citations_removed=check.removed,
            trace=trace,
        )

    def _calls(self, step: ModelStep, t0: float) -> dict:
        return {
            "calls": step.log.calls,
            "retries": step.log.retries,
            **({"notes": step.log.notes} if step.log.notes else {}),
            "ms": round((time.perf_counter() - t0) * 1000, 1),
        }

    def _fall_back(
        self, evidence: Evidence, reason: str, trace: dict, removed: list[int] | None = None
    ) -> Draft:
        log.warning("openai backend degraded to %s: %s", self.fallback.name, reason)
        draft = self.fallback.generate(evidence)
        draft.backend = self.fallback.name
        draft.degraded_reason = reason
        draft.citations_removed = removed or []
        draft.trace = trace
        return draft

    # -- follow-ups -------------------------------------------------------------------------
    def rewrite(self, question: str, history: Sequence[Turn]) -> str | None:
        """The LLM's standalone version of a follow-up, if it keeps the turn's own words;
        None (keep the rule-based rewrite) on any failure."""
        if not self.settings.llm_rewrite:
            return None
        from langchain_core.messages import HumanMessage

        lines = [f"{t.role}: {' '.join(t.content.split())[:500]}" for t in history]
        prompt = self.prompts.render(
            "llm/rewrite.md",
            history="\n".join(lines[-self.settings.history_turns :]),
            question=question,
        )
        budget = Budget(min(self.settings.llm_timeout_s, REWRITE_BUDGET_S))
        stream = self._step(budget, retries=0)([HumanMessage(prompt)])
        try:
            text = " ".join(str(drain(stream).text).split()).strip().strip('"')
        except LLMError as exc:
            log.info("LLM rewrite failed (%s); keeping the rule-based one", exc)
            return None
        own = set(content_terms(question))
        if not text or len(text) > REWRITE_MAX_CHARS or not own <= set(content_terms(text)):
            log.info("LLM rewrite %r dropped: it must keep the turn's words", text[:100])
            return None
        return text


def _retrieved(evidence: Evidence) -> tuple[Passages, list[Passage]]:
    """The retrieved chunks numbered 1…n (previews left out), each scored by its best
    evidence unit: the same numbers for `candidates` and the answer."""
    best: dict[str, float] = {}
    for u in evidence.units:
        best.setdefault(u.hit.chunk.id, u.score)  # units come best first
    passages = Passages()
    first = passages.add_all(
        ((h.chunk, best.get(h.chunk.id, h.score)) for h in evidence.hits), via="retrieved"
    )
    return passages, first


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return shorten(text, SNIPPET_CHARS)
