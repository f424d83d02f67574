"""The retrieval agent: a bounded tool-calling loop over `ChatOpenAI.bind_tools`.

The model starts with the retrieved passages and may call the corpus tools (search, read
a section, list sources) for at most `max_steps` rounds, e.g. to fetch the side of a
comparison that retrieval missed. Then it must answer: after the last round, or when a
round brings neither a tool call nor text (llama.cpp's `chatml-function-calling` format
does that), it is asked once more without tools. So one answer costs at most
`max_steps + 1` model calls, all within the answer's time budget (see `model.ModelStep`).
Every call and tool result is recorded for the trace.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from assistant.agent.step import ModelStep
from assistant.agent.tools import CorpusTools

ARGS_CHARS = 200  # tool arguments as recorded in the trace


@dataclass
class AgentRun:
    text: str
    steps: list[dict] = field(default_factory=list)


def run_agent(
    step: ModelStep,
    messages: list[BaseMessage],
    tools: CorpusTools | None,
    max_steps: int,
    answer_now: str,
) -> Generator[str, None, AgentRun]:
    """Yields the answer's text as it streams; returns it with the steps taken."""
    steps: list[dict] = []
    final = tools is None or max_steps == 0
    while True:
        if not final and len(steps) >= max_steps:
            final = True
            messages.append(HumanMessage(answer_now))
        t = time.perf_counter()
        offered = None if final or tools is None else list(tools.tools.values())
        reply = yield from step(messages, offered)
        record: dict = {"step": len(steps) + 1, "tools_offered": offered is not None}
        calls = [] if offered is None else [*reply.tool_calls, *reply.invalid_tool_calls]
        if not calls:
            text = str(reply.text)
            record.update(answer_chars=len(text), ms=_ms(t))
            steps.append(record)
            if final or text.strip():
                return AgentRun(text, steps)
            record["note"] = "neither an answer nor a tool call: asked again without tools"
            final = True
            messages.append(HumanMessage(answer_now))
            continue
        assert tools is not None
        for i, call in enumerate(calls):  # some servers send no ids; the protocol needs them
            call["id"] = call.get("id") or f"call_{len(steps)}_{i}"
        messages.append(
            AIMessage(
                # Not empty: LangChain sends "" as null, which llama.cpp's server rejects.
                content=reply.content or " ",
                tool_calls=reply.tool_calls,
                invalid_tool_calls=reply.invalid_tool_calls,
            )
        )
        record["tool_calls"] = []
        for call in calls:
            before = len(tools.passages)
            result, ok = tools.call(str(call.get("name") or ""), call.get("args"))
            messages.append(ToolMessage(result, tool_call_id=call["id"]))
            record["tool_calls"].append(
                {
                    "tool": call.get("name"),
                    "args": _brief(call.get("args")),
                    "ok": ok,
                    "new_passages": list(range(before + 1, len(tools.passages) + 1)),
                    **({} if ok else {"error": result[:ARGS_CHARS]}),
                }
            )
        record["ms"] = _ms(t)
        steps.append(record)


def _brief(args: object) -> object:
    if isinstance(args, dict):
        return {k: _brief(v) for k, v in list(args.items())[:5]}
    text = str(args)
    return args if len(text) <= ARGS_CHARS else text[: ARGS_CHARS - 1] + "…"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)
