"""Server logs are JSON lines that carry the request id."""

from __future__ import annotations

import json
import logging

from fastapi.testclient import TestClient

from assistant.server.app import create_app
from assistant.server.logging import JsonFormatter


def test_access_log_is_json_with_the_request_id(corpus_assistant, caplog) -> None:
    client = TestClient(create_app(assistant=corpus_assistant))
    with caplog.at_level(logging.INFO, logger="stackguide.http"):
        client.post("/v1/ask", json={"question": "What is Hono?"}, headers={"X-Request-ID": "r-42"})
    record = next(r for r in caplog.records if r.name == "stackguide.http")
    line = json.loads(JsonFormatter().format(record))
    assert line["method"] == "POST" and line["path"] == "/v1/ask" and line["status"] == 200
    assert line["duration_ms"] > 0 and line["level"] == "info"


def test_request_id_reaches_log_lines_written_during_the_request(corpus_assistant) -> None:
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = Capture(level=logging.INFO)
    logger = logging.getLogger("stackguide.http")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client = TestClient(create_app(assistant=corpus_assistant))
        client.get("/healthz", headers={"X-Request-ID": "trace-me-7"})
    finally:
        logger.removeHandler(handler)
    assert any(json.loads(x)["request_id"] == "trace-me-7" for x in lines), lines
