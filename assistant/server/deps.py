"""Dependency aliases for routes (the FastAPI template's `deps.py` pattern)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request

from assistant.server.metrics import Metrics
from assistant.service import Assistant

T = TypeVar("T")


# async: a sync dependency costs a trip through the thread pool on every request.
async def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


async def answer_off_loop(request: Request, fn: Callable[..., T], *args, **kwargs) -> T:
    """Run CPU-bound answering in a worker thread, at most `answer_concurrency` at once per
    process: more threads only queue on the GIL, and queued requests then all finish late
    instead of most finishing early."""
    state = request.app.state
    if getattr(state, "answer_limiter", None) is None:  # made on first use: needs the loop
        state.answer_limiter = anyio.CapacityLimiter(state.settings.answer_concurrency)
    call = functools.partial(fn, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=state.answer_limiter)


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
