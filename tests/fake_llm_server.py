"""A tiny OpenAI-compatible server on 127.0.0.1 with scripted replies, faults included.

It speaks the real protocol (the `openai` client and `ChatOpenAI` are pointed at it):
plain JSON or Server-Sent Events when the request asks to stream, tool calls, and on
purpose the ways real endpoints misbehave — slow, 429 with Retry-After, 5xx, garbage,
empty content, a stream that never ends. Tests exercise request building, reply parsing
and every fallback without any model or network.

`FakeLLMServer(reply)` answers every request with `reply(prompt)` (the last message's
text); `FakeLLMServer(respond=fn)` lets `fn(request_body)` return any `Response` below.
Every streamed reply is logged in `streams` (when it opened, when it closed, whether it
finished), so tests can see a client give up on a stream.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Text:
    content: str
    piece_chars: int = 6  # streamed in pieces this long
    delay_s: float = 0.0  # between pieces


@dataclass
class ToolCalls:
    calls: list[tuple[str, str]]  # (tool name, arguments as the model wrote them)
    content: str = ""


@dataclass
class Status:
    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "scripted failure", "type": "server_error"}}'


@dataclass
class Slow:
    seconds: float
    then: Response


@dataclass
class Garbage:
    data: bytes = b"<html>definitely not json"
    content_type: str = "application/json"


@dataclass
class Drip:
    """A stream that sends a token every `interval_s` and never finishes on its own; with
    `keepalive`, SSE comments instead (bytes that carry no token), after `first`."""

    interval_s: float = 0.2
    token: str = "more "
    keepalive: bool = False
    first: str = ""


@dataclass
class StreamLog:
    opened: float  # time.monotonic()
    closed: float | None = None  # when the server stopped writing: done, or the client left
    finished: bool = False  # sent to the end ([DONE])


Response = Text | ToolCalls | Status | Slow | Garbage | Drip
Reply = Callable[[str], str]  # prompt → completion text
Respond = Callable[[dict], Response]  # request body → response


def last_text(body: dict) -> str:
    content = body["messages"][-1].get("content") or ""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


class FakeLLMServer:
    def __init__(self, reply: Reply | None = None, *, respond: Respond | None = None) -> None:
        if respond is None:
            assert reply is not None, "give reply or respond"
            respond = lambda body: Text(reply(last_text(body)))  # noqa: E731
        self.respond = respond
        self.prompts: list[str] = []
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.streams: list[StreamLog] = []
        self.stopping = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                outer.prompts.append(last_text(body))
                # The client may give up first (a timeout test): then there is no one to send to.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    outer._send(self, body, outer.respond(body))

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:  # a dropped client
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLMServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- replies ----------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, body: dict, r: Response) -> None:
        if isinstance(r, Slow):
            self.stopping.wait(r.seconds)
            return self._send(h, body, r.then)
        if isinstance(r, Status):
            return _raw(h, r.code, r.body.encode(), "application/json", r.headers)
        if isinstance(r, Garbage):
            return _raw(h, 200, r.data, r.content_type)
        model = body.get("model", "fake")
        if not body.get("stream"):
            return _raw(h, 200, json.dumps(_completion(model, r)).encode(), "application/json")
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        log = StreamLog(time.monotonic())
        self.streams.append(log)
        try:
            for chunk in self._chunks(model, r, lambda s: self._pause(h.connection, s)):
                line = chunk if isinstance(chunk, str) else f"data: {json.dumps(chunk)}\n\n"
                h.wfile.write(line.encode())
                h.wfile.flush()
            if self.stopping.is_set() or _peer_closed(h.connection):
                return
            h.wfile.write(b"data: [DONE]\n\n")
            h.wfile.flush()
            log.finished = True
        finally:
            log.closed = time.monotonic()

    def _pause(self, conn: socket.socket, seconds: float) -> bool:
        """Wait; True as soon as the server stops or the client closed the connection."""
        deadline = time.monotonic() + seconds
        while not _peer_closed(conn):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.stopping.wait(min(left, 0.02)):
                return True
        return True

    def _chunks(self, model: str, r: Response, pause=None):
        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {
                "id": "chatcmpl-fake", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }  # fmt: skip

        yield chunk({"role": "assistant", "content": ""})
        if isinstance(r, Drip):
            if r.first:
                yield chunk({"content": r.first})
            while not (pause or self.stopping.wait)(r.interval_s):
                yield ": keep-alive\n\n" if r.keepalive else chunk({"content": r.token})
            return
        if isinstance(r, ToolCalls):
            for i, (name, args) in enumerate(r.calls):
                yield chunk(
                    {
                        "tool_calls": [
                            {
                                "index": i,
                                "id": f"call_{i}",
                                "type": "function",
                                "function": {"name": name, "arguments": ""},
                            }
                        ]
                    }
                )
                yield chunk({"tool_calls": [{"index": i, "function": {"arguments": args}}]})
            yield chunk({}, "tool_calls")
            return
        assert isinstance(r, Text)
        for start in range(0, len(r.content), r.piece_chars):
            if r.delay_s:
                self.stopping.wait(r.delay_s)
            yield chunk({"content": r.content[start : start + r.piece_chars]})
        yield chunk({}, "stop")


def _completion(model: str, r: Response) -> dict:
    if isinstance(r, ToolCalls):
        message: dict = {"role": "assistant", "content": r.content or None, "tool_calls": [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(r.calls)
        ]}  # fmt: skip
        finish = "tool_calls"
    else:
        assert isinstance(r, Text), "Drip only streams"
        message, finish = {"role": "assistant", "content": r.content}, "stop"
    return {
        "id": "cmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": finish, "message": message}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }  # fmt: skip


def _peer_closed(conn: socket.socket) -> bool:
    """The client closed its end (readable, and nothing to read)."""
    try:
        if not select.select([conn], [], [], 0)[0]:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _raw(
    h: BaseHTTPRequestHandler, code: int, data: bytes, ctype: str, headers: dict | None = None
) -> None:
    h.send_response(code)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)
