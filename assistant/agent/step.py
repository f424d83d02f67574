"""One streamed LLM call, bounded: retries, Retry-After, deadlines, errors translated.

`ModelStep` wraps a LangChain chat model (ChatOpenAI). Each call streams, yields the text
as it arrives and returns the whole message (text and tool calls). What can go wrong at
an OpenAI-compatible endpoint becomes an `LLMError` with a reason fit for the user:

- 429, 5xx, timeouts and refused connections are retried (at most `llm_max_retries`
  times, exponential backoff; a 429's Retry-After is honoured, capped by
  `llm_retry_after_max_s`) while nothing has been streamed and time is left;
- every wait is bounded: each request by `llm_timeout_s` (also the longest silence
  between two tokens) and by what is left of the answer's deadline, which is checked
  between tokens too;
- a 400 to a request with tools is `ToolsRejected` (the endpoint or model has no tool
  calling): the caller answers without tools;
- garbage (not JSON, not the protocol) is an `LLMError`, never an exception that escapes;
- a reason is a fixed text with the status code, never the endpoint's body or the
  exception's text: endpoints echo what they were sent ("Incorrect API key provided:
  sk-…"), and reasons reach clients, stored conversations and logs;
- an attempt's connection is shut when the budget runs out or the answer is cancelled
  (`Cancel`, its client went away): httpx's read timeout restarts with every byte, SSE
  keep-alives included, and nothing else stops a read blocked in a worker thread.
"""

from __future__ import annotations

import email.utils
import importlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from assistant.errors import LLMError

log = logging.getLogger(__name__)
BACKOFF_S = 0.5
BACKOFF_MAX_S = 8.0
HOLD_CHARS = 16  # held back before streaming: long enough to recognise the refusal mark


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's own network errors (timeouts included), which can escape the SDK
    mid-stream: httpx's for openai 1.x–2.x, httpx2's for openai 3.x."""
    found = []
    for name in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except ImportError:
            continue
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


class ToolsRejected(LLMError):
    """The endpoint refused a request with tools (400): it cannot call tools."""


class Cancel:
    """Set once nobody waits for the answer any more (its client went away). Whoever holds
    an LLM connection open subscribes, to shut it from the thread that cancels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._subscribers: list[Callable[[], None]] = []

    def set(self) -> None:
        with self._lock:
            if self._set:
                return
            self._set = True
            subscribers, self._subscribers = self._subscribers, []
        for fn in subscribers:
            fn()

    def is_set(self) -> bool:
        return self._set

    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call `fn` once when set (now, if it already is); returns the unsubscribe."""
        with self._lock:
            if not self._set:
                self._subscribers.append(fn)
                return lambda: self._unsubscribe(fn)
        fn()
        return lambda: None

    def _unsubscribe(self, fn: Callable[[], None]) -> None:
        with self._lock, suppress(ValueError):
            self._subscribers.remove(fn)


# The cancellation of the answer being written in this thread: set by the edge that runs
# the answer (see assistant/server/streaming.py), so no signature in between changes.
CANCEL: ContextVar[Cancel | None] = ContextVar("stackguide_answer_cancel", default=None)


@dataclass
class Budget:
    """The wall-clock budget of one answer, shared by all its steps and retries. A
    cancelled answer has no time left."""

    seconds: float
    start: float = field(default_factory=time.monotonic)
    cancel: Cancel | None = field(default_factory=CANCEL.get)

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    @property
    def left(self) -> float:
        if self.cancelled:
            return 0.0
        return self.seconds - (time.monotonic() - self.start)

    def spent(self, writing: bool) -> LLMError:
        """The error for an answer out of time (or cancelled)."""
        if self.cancelled:
            return LLMError("the answer was cancelled: its client went away")
        if writing:
            return LLMError(f"the LLM was still writing after {self.seconds:g} s")
        return LLMError(f"no answer from the LLM within {self.seconds:g} s")


class _Watch:
    """Shuts the connection of one attempt when its budget runs out or the answer is
    cancelled: a blocked read then ends at once, in whatever thread it waits. Whatever the
    attempt then raises (or a cut stream that just looks finished) leaves the block as
    the budget's error."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.fired = False
        self.writing = False  # the reply had begun: "still writing", not "no answer"
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> _Watch:
        self._timer = threading.Timer(max(self.budget.left, 0.0), self.fire)
        self._timer.daemon = True
        self._timer.start()
        cancel = self.budget.cancel
        self._unsubscribe = cancel.subscribe(self.fire) if cancel else lambda: None
        # set, not reset, on exit: a generator may be resumed in another context copy
        self._outer = _WATCH.get()
        _WATCH.set(self)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self._timer.cancel()
        self._unsubscribe()
        _WATCH.set(self._outer)
        if self.fired and (exc is None or isinstance(exc, Exception)):
            raise self.budget.spent(writing=self.writing) from None

    def attach(self, response) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if not self.fired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def fire(self) -> None:
        with self._lock:
            self.fired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)


_WATCH: ContextVar[_Watch | None] = ContextVar("stackguide_llm_watch", default=None)


def watch_response(response) -> None:
    """An httpx response hook (before the body is read): the attempt under way may shut
    this connection."""
    watch = _WATCH.get()
    if watch is not None:
        watch.attach(response)


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: it wakes a recv() blocked in another thread; the HTTP client
    # still closes the socket itself.
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


@dataclass
class StepLog:
    """What happened in the calls of one answer, for the trace."""

    calls: int = 0
    retries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ModelStep:
    def __init__(
        self,
        llm,
        *,
        timeout_s: float,
        max_retries: int,
        retry_after_max_s: float,
        budget: Budget,
        hold: str = "",
        stream_tools: bool = True,
    ) -> None:
        self.llm = llm
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_after_max_s = retry_after_max_s
        self.budget = budget
        self.hold = hold  # a reply starting with this is never streamed (the refusal mark)
        self.stream_tools = stream_tools  # False: steps that offer tools are not streamed
        self.log = StepLog()
        self._streamed = False  # text already yielded in this attempt: it cannot be retried

    def __call__(
        self, messages: Sequence[BaseMessage], tools: Sequence[BaseTool] | None = None
    ) -> Generator[str, None, AIMessage]:
        """Stream one reply: yields text as it comes, returns the whole message."""
        import openai

        attempt = 0
        stale = False
        while True:
            left = self.budget.left
            if left <= 0:
                raise self.budget.spent(writing=False)
            self.log.calls += 1
            self._streamed = False
            timeout = min(self.timeout_s, left)
            try:
                runnable = self.llm.bind_tools(tools, tool_choice="auto") if tools else self.llm
                if tools and not self.stream_tools:
                    return (yield from self._whole_reply(runnable, messages, timeout))
                message = yield from self._streamed_reply(runnable, messages, timeout)
                if message is None and tools:
                    # Not even a first chunk: llama.cpp's chatml-function-calling cannot
                    # stream a reply that may call tools. Ask again, unstreamed, and keep
                    # tool steps unstreamed from now on.
                    self.stream_tools = False
                    self.log.notes.append(
                        "the endpoint sent nothing to a streamed request "
                        "with tools: tool steps are not streamed"
                    )
                    stale = True  # and it may have dropped the connection it failed on
                    continue
                return _whole(message)
            except LLMError:
                raise
            except openai.BadRequestError as exc:
                if tools:
                    raise _failed("the endpoint refused tool calling", exc, ToolsRejected) from None
                raise _failed("the endpoint rejected the request", exc) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise _failed("the endpoint refused the API key", exc) from None
            except openai.NotFoundError as exc:
                raise _failed("model or endpoint not found", exc) from None
            except (
                openai.RateLimitError,
                openai.InternalServerError,
                openai.APIConnectionError,  # includes APITimeoutError
                *TRANSPORT_ERRORS,  # a stall mid-stream may not be wrapped by the SDK
            ) as exc:
                if stale and not self._streamed and _dropped(exc):
                    stale = False  # a pooled connection the server closed: reconnect once
                    continue
                why = _describe(exc, timeout)
                wait = self._wait(exc, attempt)
                if self._streamed or attempt >= self.max_retries or wait is None:
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise _failed(f"{why}{tries}", exc) from None
                self.log.retries.append(f"{why}; retrying in {wait:.2f} s")
                log.info("LLM call failed (%s, %s); retry %d in %.2f s",
                         why, _kind(exc), attempt + 1, wait)  # fmt: skip
                time.sleep(wait)
                attempt += 1
            except openai.APIStatusError as exc:
                raise _failed(f"the LLM endpoint answered {exc.status_code}", exc) from None
            except (
                openai.APIError,
                ValidationError,
                ValueError,
                KeyError,
                IndexError,
                TypeError,
                AttributeError,
            ) as exc:
                # APIResponseValidationError, JSON that is not a completion, a stream of
                # garbage (the parsers fail in many ways): nothing to retry, nothing to show.
                raise _failed("the LLM sent a malformed reply", exc) from None

    def _streamed_reply(
        self, runnable, messages: Sequence[BaseMessage], timeout: float
    ) -> Generator[str, None, AIMessageChunk | None]:
        message: AIMessageChunk | None = None
        held, calling, flowing = "", False, False
        with _Watch(self.budget) as watch:
            chunks = runnable.stream(list(messages), timeout=timeout)
            try:
                for chunk in _until_empty(chunks):
                    message = chunk if message is None else message + chunk
                    watch.writing = True
                    calling = calling or bool(chunk.tool_call_chunks)
                    text = str(chunk.text)
                    if text and not calling:
                        if flowing:
                            self._streamed = True
                            yield text
                        else:
                            held += text
                            if len(held) >= HOLD_CHARS and not self._held_back(held):
                                flowing = self._streamed = True
                                yield held
                    if self.budget.left <= 0:
                        raise self.budget.spent(writing=True)
            finally:
                chunks.close()
        if held and not flowing and not calling and not self._held_back(held):
            yield held
        return message

    def _whole_reply(
        self, runnable, messages: Sequence[BaseMessage], timeout: float
    ) -> Generator[str, None, AIMessage]:
        with _Watch(self.budget):
            reply = runnable.invoke(list(messages), timeout=timeout)
        message = _whole(reply)
        text = str(message.text)
        if text and not message.tool_calls and not self._held_back(text):
            self._streamed = True
            yield text
        return message

    def _held_back(self, text: str) -> bool:
        start = text.lstrip()
        return bool(self.hold) and (start.startswith(self.hold) or self.hold.startswith(start))

    def _wait(self, exc: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt; None when the time left is too short."""
        retry_after = _retry_after(exc)
        if retry_after is not None:
            wait = min(retry_after, self.retry_after_max_s)
        else:
            wait = min(BACKOFF_S * 2**attempt, BACKOFF_MAX_S) * (1 + random.random() / 4)
        # Waiting only to be cut off by the deadline helps nobody: give up now instead.
        return wait if wait < self.budget.left - 0.5 else None


def _until_empty(chunks: Iterator[AIMessageChunk]) -> Iterator[AIMessageChunk]:
    """The chunks; a stream that ends before its first chunk is just empty (LangChain
    raises a ValueError for it)."""
    first = True
    try:
        for chunk in chunks:
            first = False
            yield chunk
    except ValueError:
        if not first:
            raise


def _whole(message: AIMessage | None) -> AIMessage:
    if message is None:
        return AIMessage(content="")
    content = message.content if isinstance(message.content, str) else message.text
    return AIMessage(
        content=content,
        tool_calls=message.tool_calls,
        invalid_tool_calls=message.invalid_tool_calls,
        response_metadata=message.response_metadata,
    )


def _dropped(exc: Exception) -> bool:
    import openai

    dropped = isinstance(exc, (openai.APIConnectionError, *TRANSPORT_ERRORS))
    return dropped and not _timed_out(exc)


def _timed_out(exc: Exception) -> bool:
    import openai

    return isinstance(exc, openai.APITimeoutError) or "Timeout" in type(exc).__name__


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _describe(exc: Exception, timeout: float) -> str:
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "the LLM endpoint is rate-limiting (429)"
    if isinstance(exc, openai.InternalServerError):
        return f"the LLM endpoint failed ({exc.status_code})"
    if _timed_out(exc):
        return f"the LLM endpoint timed out (no reply within {timeout:g} s)"
    return "the LLM endpoint could not be reached"


def _failed(why: str, exc: Exception, kind: type[LLMError] = LLMError) -> LLMError:
    """The error for a failed call: a fixed reason and the status code. The endpoint's
    body and the exception's text stay out, of the reason and of the log: they may echo
    the API key. (Raised `from None`, so no traceback shows them either.)"""
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and str(status) not in why:
        why = f"{why} ({status})"
    log.warning("LLM call failed: %s [%s]", why, _kind(exc))
    return kind(why)


def _kind(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return type(exc).__name__ + (f" {status}" if isinstance(status, int) else "")
