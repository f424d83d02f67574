"""uvicorn's HTTP/1.1 protocol with the limits it lacks: a deadline for reading a request
(headers, then body) and a cap on the size of its headers.

uvicorn times out idle keep-alive connections, but a client that sends its headers or body
a byte at a time holds a connection (and, with httptools, unbounded header memory) for as
long as it likes. Here every request must arrive within `read_timeout_s` of its first byte
(408 otherwise) and its request line and headers must fit in `max_header_bytes` (431).
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from assistant.settings import load_settings

log = logging.getLogger("stackguide.http")


def _reply_and_close(transport: asyncio.Transport, status: bytes) -> None:
    if transport.is_closing():
        return
    transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
    transport.close()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    # Read from the settings (the environment) once per process: uvicorn makes one
    # protocol per connection and its workers are fresh processes.
    read_timeout_s: float | None = None
    max_header_bytes: int | None = None

    @classmethod
    def _limits(cls) -> tuple[float, int]:
        if cls.read_timeout_s is None or cls.max_header_bytes is None:
            settings = load_settings()
            cls.read_timeout_s = settings.http_read_timeout_s
            cls.max_header_bytes = settings.max_header_bytes
        return cls.read_timeout_s, cls.max_header_bytes

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._in_body = False
        super().connection_made(transport)
        self._arm()  # the first request's headers are due

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._header_bytes, self._in_body = 0, False
        self._arm()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_body = True
        self._arm()  # the body has the same time again
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # -- limits -----------------------------------------------------------------------------
    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self._limits()[1]:
            log.warning("request headers over %d bytes: refused", self._limits()[1])
            self._disarm()
            _reply_and_close(self.transport, b"431 Request Header Fields Too Large")
            # stops the parser; uvicorn then answers nothing more on the closed transport
            raise ValueError("headers too large")

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._limits()[0], self._timed_out)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        log.warning(
            "request %s not received within %g s: connection closed",
            "body" if self._in_body else "headers",
            self._limits()[0],
        )
        if self._in_body and self.cycle is not None:
            # the app is reading: it sees a disconnect, and its response (if any) is dropped
            self.transport.close()
        else:
            _reply_and_close(self.transport, b"408 Request Timeout")
