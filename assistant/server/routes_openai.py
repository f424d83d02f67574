"""An OpenAI-compatible surface, so any OpenAI client or chat UI can use StackGuide as a
model. Sources are appended to the content as a numbered list and also given, structured,
in an extra `citations` field (and the whole answer object in `stackguide`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from assistant.models import Answer, Turn
from assistant.server.deps import AssistantDep, MetricsDep
from assistant.server.middleware import Guarded, JsonBody
from assistant.server.schemas import ChatCompletionRequest
from assistant.server.sse import data_only
from assistant.server.tracing import annotate

router = APIRouter(prefix="/v1", dependencies=Guarded, tags=["openai"])
MODEL = "stackguide"


@router.get("/models")
def models() -> dict:
    return {"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 1767225600, "owned_by": "stackguide"}
    ]}  # fmt: skip


def _content(answer: Answer) -> str:
    if not answer.citations:
        return answer.answer
    sources = "\n".join(f"[{c.n}] {c.label} ({c.source})" for c in answer.citations)
    return f"{answer.answer}\n\nSources:\n{sources}"


def _extras(answer: Answer) -> dict:
    data = answer.to_dict()
    data.pop("trace", None)
    return {"citations": data["citations"], "stackguide": data}


@router.post("/chat/completions")
def chat_completions(
    body: ChatCompletionRequest, assistant: AssistantDep, metrics: MetricsDep, _: JsonBody
):
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise HTTPException(422, detail="the last message must be the user's question")
    history = [Turn(m.role, m.text()) for m in turns[:-1]]
    answer = assistant.ask(turns[-1].text(), history)
    metrics.observe_answer(answer.timings_ms, answer.refused, answer.degraded)
    annotate(answer)
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    content = _content(answer)
    if not body.stream:
        words = len(content.split())
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": len(answer.question.split()), "completion_tokens": words,
                      "total_tokens": len(answer.question.split()) + words},
            **_extras(answer),
        }  # fmt: skip

    def chunks() -> Iterator[str]:
        def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
            return data_only({
                "id": cid, "object": "chat.completion.chunk", "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra,
            })  # fmt: skip

        yield chunk({"role": "assistant", "content": ""})
        for piece in content.splitlines(keepends=True):
            yield chunk({"content": piece})
        yield chunk({}, "stop", **_extras(answer))
        yield data_only("[DONE]")

    return StreamingResponse(chunks(), media_type="text/event-stream")
