"""The FastAPI app over the shared, already ingested index, and its error bodies."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.server.app import create_app
from assistant.service import Assistant
from tests.conftest import make_settings


def build_app(corpus_assistant, model_cache: Path, db_dir: Path, **extra: object) -> FastAPI:
    """The shared, already ingested index; conversations in a SQLite file of this test."""
    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache,
        database_url=f"sqlite:///{db_dir / 'conversations.db'}", **extra,
    )  # fmt: skip
    return create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))


def client_for(app: FastAPI) -> TestClient:
    # a 500 must show up as a response to assert on, not as an exception in the test
    return TestClient(app, raise_server_exceptions=False)


def assert_error(r, status: int, kind: str | None = None) -> dict:
    """`status` with the documented error body {"error": {"type", "message"}}."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["message"]
    if kind is not None:
        assert error["type"] == kind, error
    return error


def sse_events(body: str) -> list[tuple[str, object]]:
    """A Server-Sent Events body as (event, data) pairs, data parsed as JSON."""
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events
