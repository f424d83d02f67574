"""Request id, access log and metrics; request body limit; API keys; rate limiting."""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
import uuid
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import Forbidden
from assistant.server.logging import request_id
from assistant.server.owners import digest, presented_key

log = logging.getLogger("stackguide.http")


class RequestContext:
    """Pure ASGI (streams pass through untouched): request id, log line, metrics."""

    def __init__(self, app: ASGIApp, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        token = request_id.set(rid)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            took = time.perf_counter() - start
            self.metrics.requests.labels(route=path, status=str(status)).inc()
            self.metrics.latency.labels(route=path).observe(took)
            log.info(
                "%s %s %s", scope["method"], scope["path"], status,
                extra={"method": scope["method"], "path": scope["path"], "status": status,
                       "duration_ms": round(took * 1000, 2),
                       "client": (scope.get("client") or ["-"])[0]},
            )  # fmt: skip
            request_id.reset(token)


class BodyLimit:
    """413 for bodies over the limit, whether or not Content-Length says so. File uploads
    (multipart bodies) to the paths in `larger` have limits of their own."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
        limit = self.larger.get(scope.get("path", ""), self.default) if multipart else self.default
        declared = headers.get(b"content-length")
        if declared is not None:
            if declared.isdigit() and int(declared) > limit:
                return await _too_large(send, limit)
            return await self.app(scope, receive, send)
        # No declared length (chunked): read it all first, up to the limit, then replay.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return await self.app(scope, _replay([message]), send)
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                return await _too_large(send, limit)
        await self.app(
            scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive),
            send,
        )  # fmt: skip


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is not None:
            return await then()  # e.g. http.disconnect while the app streams
        return {"type": "http.disconnect"}

    return receive


async def _too_large(send: Send, limit: int) -> None:
    body = b'{"error":{"type":"body_too_large","message":"request body over %d bytes"}}' % limit
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


# -- dependencies for the /v1 routes -----------------------------------------------------------
# async although nothing in them awaits: sync dependencies each cost a thread-pool trip.


def _matching(key: str, keys: list[str]) -> bool:
    # every key compared, in constant time: no early exit to time
    return any([secrets.compare_digest(key.encode(), k.encode()) for k in keys])


def valid_key(request: Request) -> str | None:
    """The request's API key when it is one of the configured keys (an admin key reads
    what a read key does)."""
    key = presented_key(request) or ""
    settings = request.app.state.settings
    return key if _matching(key, [*settings.api_keys, *settings.admin_keys]) else None


def is_admin(request: Request) -> bool:
    key = presented_key(request)
    return bool(key) and _matching(key or "", request.app.state.settings.admin_keys)


def client_identity(request: Request) -> str:
    """Who a request counts against: its API key when it is a valid one, else its address
    (as the trusted proxies report it): made-up keys share their sender's bucket."""
    if request.app.state.settings.api_keys:
        key = valid_key(request)
        if key:
            return "key:" + digest(key)
    return "ip:" + (request.client.host if request.client else "-")


async def require_api_key(request: Request) -> None:
    if not request.app.state.settings.api_keys:
        return
    if valid_key(request) is None:
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key (Authorization: Bearer KEY, or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_admin_key(request: Request) -> None:
    """Changing the corpus needs an admin key: 401 without a valid key, 403 with a read key."""
    if not request.app.state.settings.admin_keys:
        raise Forbidden("document changes are off on this server: set STACKGUIDE_ADMIN_KEYS "
                        "to allow them")  # fmt: skip
    if is_admin(request):
        return
    if valid_key(request) is None:
        raise HTTPException(
            status_code=401,
            detail="missing or invalid admin key (Authorization: Bearer KEY, or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    raise Forbidden("this key may read but not change the corpus: use an admin key")


class RateLimiter:
    """A token bucket per client: `per_minute` requests, refilled continuously.

    In memory, per worker process: with N workers the effective limit is N × per_minute.
    A bucket that has refilled completely holds nothing worth keeping: such buckets are
    dropped, so the table is bounded by the clients of the last minute.
    """

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.refill_s = 60.0  # an idle bucket is full again after this long
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.clock = clock
        self._swept = clock()

    def take(self, who: str) -> float:
        """0 when allowed, else seconds until a request would be."""
        now = self.clock()
        with self.lock:
            if now - self._swept >= self.refill_s:
                self._sweep(now)
            tokens, last = self.buckets.get(who, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.buckets[who] = (tokens - 1, now)
                return 0.0
            self.buckets[who] = (tokens, now)
            return (1 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        self.buckets = {
            who: (tokens, last)
            for who, (tokens, last) in self.buckets.items()
            if now - last < self.refill_s
        }
        self._swept = now


async def rate_limit(request: Request) -> None:
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is None:
        return
    wait = limiter.take(client_identity(request))
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail="rate limit exceeded; retry later",
            headers={"Retry-After": str(math.ceil(wait))},
        )


async def require_json(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise HTTPException(415, detail="send the body as application/json")


# Counted before the key is checked: guessing keys costs requests like anything else.
Guarded = [Depends(rate_limit), Depends(require_api_key)]
JsonBody = Annotated[None, Depends(require_json)]
