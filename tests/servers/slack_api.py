"""A recording stand-in for Slack's Web API (and for `response_url` webhooks), on 127.0.0.1.

It answers the way Slack does: `{"ok": true, ...}` with a fresh message `ts` for
chat.postMessage, the updated message for chat.update, `invalid_auth` for a wrong bearer
token, `unknown_method` for what it does not know. Every call is recorded with its
parsed body (JSON or form), so tests can assert channel, thread_ts, blocks and order.
`apps.connections.open` hands out the URL of a Socket Mode server when one is given.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


@dataclass
class Call:
    method: str  # "chat.postMessage", or "hook:<path>" for a response_url
    body: dict[str, Any]
    token: str | None
    reply: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeSlack:
    url: str = ""  # base URL of the Web API, with a trailing slash
    calls: list[Call] = field(default_factory=list)
    socket_url: str | None = None  # what apps.connections.open returns
    lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def hook_url(self, name: str = "cmd") -> str:
        """A `response_url` served here (Slack's are on hooks.slack.com)."""
        return f"{self.url.removesuffix('api/')}hooks/{name}"

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    def of(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        with self.lock:
            return [c.method for c in self.calls]

    def wait_for(
        self, check: Callable[[FakeSlack], bool], timeout: float = 30.0, what: str = "calls"
    ) -> None:
        deadline = time.monotonic() + timeout
        while not check(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; calls: {self.methods()}")
            time.sleep(0.02)

    def wait_count(self, method: str, n: int, timeout: float = 30.0) -> list[Call]:
        self.wait_for(lambda s: len(s.of(method)) >= n, timeout, f"{n} × {method}")
        return self.of(method)

    def reply(self, method: str, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        if method.startswith("hook:"):
            return {"ok": True}
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_url} if self.socket_url else {
                "ok": False, "error": "no_socket_server"}  # fmt: skip
        if token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Test",
                    "user": "stackguide", "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID, "is_enterprise_install": False}  # fmt: skip
        if method == "chat.postMessage":
            ts = self.next_ts()
            message = {"type": "message", "text": body.get("text", ""), "user": BOT_USER_ID,
                       "bot_id": BOT_ID, "ts": ts, "blocks": body.get("blocks", [])}  # fmt: skip
            if body.get("thread_ts"):
                message["thread_ts"] = body["thread_ts"]
            return {"ok": True, "channel": body.get("channel"), "ts": ts, "message": message}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"),
                    "text": body.get("text", ""), "message": {"text": body.get("text", ""),
                    "blocks": body.get("blocks", [])}}  # fmt: skip
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        return {"ok": False, "error": "unknown_method"}


def _parse(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type:
        return json.loads(raw)
    body: dict[str, Any] = dict(parse_qsl(raw.decode()))
    for key in ("blocks", "attachments"):  # form posts carry these as JSON strings
        if isinstance(body.get(key), str):
            body[key] = json.loads(body[key])
    return body


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    state = FakeSlack()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = _parse(raw, self.headers.get("Content-Type", ""))
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else body.get("token")
            path = self.path.split("?")[0]
            method = path.removeprefix("/api/") if path.startswith("/api/") else f"hook:{path}"
            with state.lock:
                reply = state.reply(method, body, token)
                state.calls.append(Call(method, body, token, reply))
            payload = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/"
    try:
        with _serving(server):
            yield state
    finally:
        server.server_close()


@dataclass
class SocketModeServer:
    url: str
    sessions: list[float] = field(default_factory=list)  # when each connection came in
    acks: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def socket_mode_server(envelopes: list[dict[str, Any]]) -> Iterator[SocketModeServer]:
    """A Socket Mode endpoint on 127.0.0.1: says hello, sends `envelopes` on the first
    connection (as Slack sends events), and records the acknowledgements coming back."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.server import serve

    state: SocketModeServer

    def session(ws) -> None:
        state.sessions.append(time.monotonic())
        hello = {"type": "hello", "num_connections": 1,
                 "debug_info": {"host": "test", "approximate_connection_time": 18060},
                 "connection_info": {"app_id": "A0APP0001"}}  # fmt: skip
        ws.send(json.dumps(hello))
        if len(state.sessions) == 1:
            for envelope in envelopes:
                ws.send(json.dumps(envelope))
        try:
            for message in ws:
                state.acks.append(json.loads(message))
        except ConnectionClosed:
            pass

    server = serve(session, "127.0.0.1", 0)
    port = server.socket.getsockname()[1]
    state = SocketModeServer(url=f"ws://127.0.0.1:{port}/link/?ticket=test&app_id=A0APP0001")
    with _serving(server):
        yield state


@contextmanager
def _serving(server) -> Iterator[None]:
    """`server.serve_forever()` on a thread for the duration of the block."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(10)
