"""`stackguide serve` over real sockets: X-Forwarded-For is believed only from the trusted
proxies, so it cannot buy more requests; rate-limit buckets expire; requests with made-up
keys count; slow senders and oversized headers are cut off."""

from __future__ import annotations

import http.client
import socket
import time

import pytest

from assistant.server.middleware import RateLimiter
from tests.servers.stackguide import stackguide_serve

pytestmark = pytest.mark.server
KEY = "key-for-rate-limits-0001"


def get(port: int, path: str, headers: dict | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def raw_exchange(port: int, chunks: list[bytes], timeout: float = 10) -> bytes:
    """Send `chunks` as they are; the bytes the server answered until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        reply = b""
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                return reply + b"<still open>"
            if not data:
                return reply
            reply += data


@pytest.fixture
def served(corpus_assistant, model_cache, tmp_path):
    def start(**env: str):
        return stackguide_serve(
            corpus_assistant.settings.data_dir, model_cache, workers=1, cwd=tmp_path,
            STACKGUIDE_DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}", **env,
        )  # fmt: skip

    return start


def test_forwarded_for_from_an_untrusted_peer_buys_no_requests(served) -> None:
    with served(STACKGUIDE_RATE_LIMIT_PER_MINUTE="3") as server:
        statuses = [
            get(server.port, "/v1/models", {"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(6)
        ]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_forwarded_for_is_believed_from_a_trusted_proxy(served) -> None:
    with served(
        STACKGUIDE_RATE_LIMIT_PER_MINUTE="2", STACKGUIDE_TRUSTED_PROXIES="127.0.0.1"
    ) as server:
        one = [get(server.port, "/v1/models", {"X-Forwarded-For": "203.0.113.1"}) for _ in "abc"]
        other = get(server.port, "/v1/models", {"X-Forwarded-For": "203.0.113.2"})
    assert one == [200, 200, 429] and other == 200  # each real client has its own budget


def test_made_up_keys_spend_the_senders_budget(served) -> None:
    with served(STACKGUIDE_RATE_LIMIT_PER_MINUTE="3", STACKGUIDE_API_KEYS=KEY) as server:
        guesses = [
            get(server.port, "/v1/models", {"X-API-Key": f"guess-{n:016d}"}) for n in range(5)
        ]
        real = get(server.port, "/v1/models", {"X-API-Key": KEY})
    assert guesses == [401, 401, 401, 429, 429]
    assert real == 200  # a valid key has its own bucket


def test_idle_buckets_are_dropped() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    for n in range(1000):
        limiter.take(f"ip:198.51.100.{n}")
    assert len(limiter.buckets) == 1000
    now[0] = 61.0  # a minute later every one of them is full again: nothing to remember
    assert limiter.take("ip:192.0.2.1") == 0
    assert set(limiter.buckets) == {"ip:192.0.2.1"}
    # a client still within its minute keeps its (spent) bucket
    limiter.take("ip:192.0.2.1"), limiter.take("ip:192.0.2.1")
    now[0] = 121.5
    assert limiter.take("ip:192.0.2.1") == 0
    assert limiter.take("ip:192.0.2.9") == 0 and len(limiter.buckets) == 2


def test_slow_headers_bodies_and_huge_headers_are_cut_off(served) -> None:
    with served(STACKGUIDE_HTTP_READ_TIMEOUT_S="1", STACKGUIDE_MAX_HEADER_BYTES="4096") as server:
        port = server.port
        start = time.monotonic()
        slow_headers = raw_exchange(port, [b"GET /healthz HTTP/1.1\r\nHost: x\r\n"])
        took = time.monotonic() - start
        assert slow_headers.startswith(b"HTTP/1.1 408"), slow_headers
        assert took < 5

        body = b'{"question": "What is Hono?"}'
        slow_body = raw_exchange(port, [
            b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body), body[:5],
        ])  # fmt: skip
        assert b"<still open>" not in slow_body  # closed, not left hanging

        huge = raw_exchange(port, [
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 8000 + b"\r\n\r\n"
        ])  # fmt: skip
        assert huge.startswith(b"HTTP/1.1 431"), huge[:80]

        # ordinary requests, keep-alive included, are unaffected
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(3):
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() and True
        conn.close()
        assert get(port, "/healthz", {"X-Pad": "a" * 3000}) == 200
