"""Requests to /slack/* that Slack did not sign, or signed but that are no Slack payload:
401 (signature or timestamp missing, malformed, stale, wrong) or 400 (signed, unreadable),
never a 500; one log line each and no traceback; an unsigned request never reaches Bolt
(whose first request calls auth.test on the Web API stand-in)."""

from __future__ import annotations

import json
import logging
import time
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import pytest

from assistant.server.app import create_app
from assistant.slack.app import ROUTES
from tests.conftest import make_settings
from tests.helpers.slack import SIGNING_SECRET, event_callback, mention, signature, signed_headers
from tests.live_server import live_server
from tests.servers.slack_api import BOT_TOKEN, fake_slack

DEEP_ARRAY = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def edge(tmp_path, model_cache):
    """The web service with Slack configured (no index needed: nothing here is answered)."""
    with fake_slack() as fake:
        settings = make_settings(
            tmp_path / "data", model_cache, database_url=f"sqlite:///{tmp_path / 'conv.db'}",
            slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=fake.url,
        )  # fmt: skip
        with live_server(create_app(settings)) as base:
            yield SimpleNamespace(base=base, fake=fake)


def signed_with(body: bytes, timestamp: str, content_type: str = JSON) -> dict[str, str]:
    """Headers signed correctly, over a timestamp header of any text."""
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature(body, timestamp),
    }


def assert_rejected(r: httpx.Response, status: int, caplog, why: str) -> None:
    assert r.status_code == status, (why, r.status_code, r.text)
    assert r.json()["error"]["type"] in ("invalid_signature", "invalid_payload"), why
    problems = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(problems) == 1, (why, [p.getMessage() for p in problems])
    assert not problems[0].exc_info, why  # one line, no traceback
    assert SIGNING_SECRET not in r.text and SIGNING_SECRET not in caplog.text


def test_unsigned_or_badly_signed_requests_get_401_before_bolt_sees_them(edge, caplog) -> None:
    event = json.dumps(event_callback(mention("What is Hono?"))).encode()
    now = str(int(time.time()))
    unsigned = {"Content-Type": JSON}
    cases: dict[str, tuple[bytes, dict[str, str | bytes]]] = {
        "not JSON": (b"hello", unsigned),
        "invalid UTF-8": (b'{"text": "\xff\xfe"}', unsigned),
        "5000-deep JSON": (DEEP_ARRAY, unsigned),
        "timestamp 'abc'": (event, signed_with(event, "abc")),
        "float timestamp": (event, signed_with(event, now + ".5")),
        "timestamp with underscores": (event, signed_with(event, f"{int(now):_}")),
        "timestamp of 5000 digits": (event, signed_with(event, "9" * 5000)),
        "no timestamp": (event, {"Content-Type": JSON, "X-Slack-Signature": signature(event, now)}),
        "no signature": (event, {"Content-Type": JSON, "X-Slack-Request-Timestamp": now}),
        "non-ASCII signature": (event, {**signed_headers(event, JSON),
                                        "X-Slack-Signature": b"v0=\xe9\xff"}),
        "signature of other bytes": (b"hello\xff", signed_headers(b"hello", JSON)),
    }  # fmt: skip
    for path in ROUTES:
        for why, (body, headers) in cases.items():
            caplog.clear()
            with caplog.at_level(logging.INFO):
                r = httpx.post(edge.base + path, content=body, headers=headers, timeout=30)
            assert_rejected(r, 401, caplog, f"{path}: {why}")
    assert edge.fake.calls == []  # Bolt never ran: its first request would call auth.test


def test_signed_bodies_that_are_no_slack_payload_get_400(edge, caplog) -> None:
    cases = {
        "not JSON": (b"hello", JSON),
        "invalid UTF-8": (b'{"text": "\xff\xfe"}', JSON),
        "5000-deep array": (DEEP_ARRAY, JSON),
        "5000-deep object": (DEEP_OBJECT, JSON),
        "an array": (b"[1, 2]", JSON),
        "null": (b"null", JSON),
        "a string": (b'"event"', JSON),
        "authorizations of the wrong type": (b'{"authorizations": "x"}', JSON),
        "a team of the wrong type": (b'{"type": "event_callback", "team": 5}', JSON),
        "form payload not JSON": (b"payload=hello", FORM),
        "form payload an array": (b"payload=%5B%5D", FORM),
        "form payload 5000 deep": (b"payload=" + quote(DEEP_ARRAY).encode(), FORM),
    }
    for path in ROUTES:
        for why, (body, content_type) in cases.items():
            caplog.clear()
            with caplog.at_level(logging.INFO):
                r = httpx.post(edge.base + path, content=body,
                               headers=signed_headers(body, content_type), timeout=30)  # fmt: skip
            assert_rejected(r, 400, caplog, f"{path}: {why}")
    assert edge.fake.calls == []  # rejected before Bolt


def test_a_signed_payload_bolt_cannot_read_is_400_not_a_crash(edge, caplog) -> None:
    """Parseable JSON whose fields have other types than Slack's: Bolt's own middleware
    trips on them (`body["event"]["type"]`), which is the sender's error."""
    actions = {"type": "block_actions", "actions": "x", "user": {"id": "U1"}}
    cases = {
        "an event that is a string": (json.dumps({**event_callback({}), "event": "x"}), JSON),
        "actions that are a string": ("payload=" + quote(json.dumps(actions)), FORM),
    }
    for why, (text, content_type) in cases.items():
        body = text.encode()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            r = httpx.post(edge.base + "/slack/events", content=body,
                           headers=signed_headers(body, content_type), timeout=30)  # fmt: skip
        assert_rejected(r, 400, caplog, why)

    # and a well-formed request still goes through
    body = b"command=%2Fstackguide&text=help&response_url=http%3A%2F%2F127.0.0.1%3A9%2F"
    r = httpx.post(edge.base + "/slack/commands", content=body, headers=signed_headers(body, FORM))
    assert r.status_code == 200 and "/stackguide QUESTION" in r.json()["text"]
