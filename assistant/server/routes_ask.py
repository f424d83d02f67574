"""/v1/ask, /v1/ask/stream and /v1/conversations: translation only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from assistant.errors import StackGuideError
from assistant.server.deps import AssistantDep, MetricsDep, answer_off_loop
from assistant.server.middleware import Guarded, JsonBody
from assistant.server.owners import TOKEN_HEADER, Caller, conversation_caller
from assistant.server.schemas import AnswerOut, AskRequest, ConversationOut, ErrorOut
from assistant.server.sse import event
from assistant.server.streaming import relay
from assistant.server.tracing import annotate

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", dependencies=Guarded, tags=["ask"])
ERRORS = {
    401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 413: {"model": ErrorOut},
    415: {"model": ErrorOut}, 422: {"model": ErrorOut}, 429: {"model": ErrorOut},
    503: {"model": ErrorOut},
}  # fmt: skip


def _public(data: dict, trace: bool = False, caller: Caller | None = None) -> dict:
    """The answer object as a client gets it."""
    data = dict(data)
    if not trace:
        data.pop("trace", None)
    if caller is not None and caller.new_token:  # the key to this new conversation
        data["conversation_token"] = caller.new_token
    return data


# exclude_unset: `trace` is in the body only when asked for
@router.post("/ask", response_model=AnswerOut, response_model_exclude_unset=True, responses=ERRORS)
async def ask(
    request: Request, body: AskRequest, assistant: AssistantDep, metrics: MetricsDep, _: JsonBody
) -> dict:
    """Answer a question (in a conversation when `conversation_id` is given: one the same
    API key started, or, without keys, whose `conversation_token` is sent in the
    `X-Conversation-Token` header)."""
    caller = conversation_caller(request, starting=body.conversation_id is None)
    answer = await answer_off_loop(
        request, assistant.chat, body.question, body.conversation_id,
        owner=caller.owner, backend=body.backend, trace=body.trace,
    )  # fmt: skip
    metrics.observe_answer(answer.timings_ms, answer.refused, answer.degraded)
    annotate(answer)
    return _public(answer.to_dict(), body.trace, caller)


@router.post(
    "/ask/stream",
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    response_class=StreamingResponse,
)
def ask_stream(
    request: Request, body: AskRequest, assistant: AssistantDep, metrics: MetricsDep, _: JsonBody
) -> StreamingResponse:
    """Server-Sent Events: `citations`, then `delta`s of the answer, then `done` with the
    whole answer object; a failure mid-way is an `error` event, never a broken stream."""
    assistant.validate(body.question)  # bad input is a plain 4xx, before any event
    assistant.generator(body.backend)  # so is an LLM backend that is not configured (503)
    caller = conversation_caller(request, starting=body.conversation_id is None)
    if body.conversation_id is not None:  # unknown (or another's) id: 404 up front
        assistant.check_conversation(body.conversation_id, caller.owner)

    def events() -> Iterator[str]:
        try:
            for kind, data in assistant.stream(
                body.question, body.conversation_id, owner=caller.owner,
                backend=body.backend, trace=body.trace,
            ):  # fmt: skip
                if kind == "done":
                    metrics.observe_answer(data["timings_ms"], data["refused"], data["degraded"])
                    data = _public(data, body.trace, caller)
                yield event(kind, data)
        except StackGuideError as exc:
            metrics.errors.labels(kind=type(exc).__name__).inc()
            yield event("error", {"type": type(exc).__name__, "message": str(exc)})
        except Exception:
            log.exception("stream failed")
            metrics.errors.labels(kind="internal").inc()
            yield event("error", {"type": "internal", "message": "the answer failed; see logs"})

    # relay: a worker thread makes the events; a client that leaves cancels the answer
    return StreamingResponse(
        relay(events), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, responses=ERRORS)
def get_conversation(
    conversation_id: str,
    request: Request,
    assistant: AssistantDep,
    _token: Annotated[str | None, Header(alias=TOKEN_HEADER)] = None,  # documents it
) -> dict:
    """The whole conversation, to the caller that owns it (404 for anyone else)."""
    conv = assistant.conversation(conversation_id, conversation_caller(request).owner)
    return {"id": conv.id, "created_at": conv.created_at.isoformat(), "turns": conv.turns}


@router.delete("/conversations/{conversation_id}", status_code=204, responses=ERRORS)
def delete_conversation(
    conversation_id: str,
    request: Request,
    assistant: AssistantDep,
    _token: Annotated[str | None, Header(alias=TOKEN_HEADER)] = None,
) -> Response:
    assistant.delete_conversation(conversation_id, conversation_caller(request).owner)
    return Response(status_code=204)
