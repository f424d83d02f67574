"""Optional LLM judge with RAGAS-style metrics, written with the `openai` package.

- faithfulness: the answer is split into statements; the share that the cited passages
  support (statements judged one by one against the context, by the LLM).
- answer relevancy: the LLM writes questions the answer would answer; the mean cosine
  between them and the real question (our embedder) — evasive or off-topic answers score
  low. Refusals are not judged.
Only runs when an OpenAI-compatible endpoint is configured; never needed in CI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from assistant.errors import BackendUnavailable, ConfigError
from assistant.models import Answer
from assistant.prompts import Prompts
from assistant.settings import LLM_NEEDS, Settings

N_QUESTIONS = 3


@dataclass
class JudgeScores:
    faithfulness: float | None
    answer_relevancy: float | None
    unsupported: list[str]


def _json(text: str) -> dict:
    """The first JSON object in a reply (models like to wrap it in prose or fences)."""
    m = re.search(r"\{.*\}", text or "", re.S)
    if not m:
        raise ValueError(f"no JSON object in judge reply: {text[:200]!r}")
    return json.loads(m.group(0))


class Judge:
    def __init__(self, settings: Settings, prompts: Prompts, embedder) -> None:
        if not settings.llm_configured():
            raise ConfigError(f"the LLM judge needs {LLM_NEEDS}")
        base, model, key = settings.llm_endpoint()
        try:
            from openai import OpenAI
        except ImportError as exc:  # pragma: no cover
            raise ConfigError("the LLM judge needs the openai package: pip install openai") from exc
        self.client = OpenAI(
            base_url=base, api_key=key or "not-needed", timeout=settings.llm_timeout_s,
            max_retries=2,
        )  # fmt: skip
        self.model = model
        self.prompts = prompts
        self.embedder = embedder

    def _ask(self, template: str, **values: str) -> dict:
        from openai import OpenAIError

        prompt = self.prompts.render(template, **values)
        try:
            reply = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
            )
        except OpenAIError as exc:
            raise BackendUnavailable(f"LLM judge request failed: {exc}") from exc
        return _json(reply.choices[0].message.content or "")

    def score(self, answer: Answer) -> JudgeScores:
        if answer.refused or not answer.citations:
            return JudgeScores(None, None, [])
        text = re.sub(r"\[\d+\]", "", answer.answer)
        statements = [
            s for s in self._ask("judge/statements.md", question=answer.question, answer=text).get(
                "statements", []
            ) if isinstance(s, str) and s.strip()
        ]  # fmt: skip
        context = "\n\n".join(f"[{c.n}] {c.section}: {c.snippet}" for c in answer.citations)
        unsupported: list[str] = []
        faithfulness = None
        if statements:
            verdicts = self._ask(
                "judge/verdicts.md", context=context,
                statements="\n".join(f"- {s}" for s in statements),
            ).get("verdicts", [])  # fmt: skip
            supported = [bool(v.get("supported")) for v in verdicts if isinstance(v, dict)]
            supported = (supported + [False] * len(statements))[: len(statements)]
            unsupported = [s for s, ok in zip(statements, supported, strict=True) if not ok]
            faithfulness = sum(supported) / len(statements)
        questions = [
            q for q in self._ask("judge/questions.md", answer=text, n=str(N_QUESTIONS)).get(
                "questions", []
            ) if isinstance(q, str) and q.strip()
        ]  # fmt: skip
        relevancy = None
        if questions:
            vecs = self.embedder.embed(questions)
            relevancy = float(np.mean(vecs @ self.embedder.embed_one(answer.question)))
        return JudgeScores(faithfulness, relevancy, unsupported)
