"""Stream an answer to a client that may leave before it ends.

Starlette runs a sync body iterator one `next()` at a time in the thread pool, and cannot
stop a `next()` that blocks on the LLM: a client that hangs up leaves the upstream request
running until the model stops writing. So the answer's events are made in a worker thread
of their own and handed over through a small queue. When the response ends (the client
went away, or the stream finished) the answer's `Cancel` is set: the open LLM connection
is shut at once (see `assistant.agent.step`), the budget has no time left, and the event
generator is closed at its next event, so its `finally` blocks run in its own thread.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import suppress

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.abc import ObjectSendStream

from assistant.agent.step import CANCEL, Cancel

BUFFER = 32  # events made ahead of a slow client; then the worker waits


async def relay(events: Callable[[], Iterator[str]]) -> AsyncIterator[str]:
    """`events()`, run in a worker thread, as an async iterator that cancels the answer
    when it is closed early (Starlette cancels it when the client disconnects)."""
    cancel = Cancel()
    send, receive = anyio.create_memory_object_stream[str](BUFFER)
    token = anyio.lowlevel.current_token()
    context = contextvars.copy_context()  # the request's: request id, tracing
    worker = threading.Thread(
        target=context.run, args=(_pump, events, cancel, send, token),
        name="answer-stream", daemon=True,
    )  # fmt: skip
    worker.start()
    try:
        async with receive:
            async for item in receive:
                yield item
    finally:
        cancel.set()  # a no-op once the answer is done


def _pump(
    events: Callable[[], Iterator[str]],
    cancel: Cancel,
    send: ObjectSendStream[str],
    token: anyio.lowlevel.EventLoopToken,
) -> None:
    CANCEL.set(cancel)  # what every Budget of this answer consults
    stream = events()
    try:
        for item in stream:
            if cancel.is_set():
                break
            try:
                anyio.from_thread.run(send.send, item, token=token)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, RuntimeError):
                break  # the client left while we waited for room, or the loop is gone
    finally:
        if hasattr(stream, "close"):
            stream.close()  # its `finally` closes the upstream HTTP stream
        with suppress(RuntimeError):
            anyio.from_thread.run_sync(send.close, token=token)
