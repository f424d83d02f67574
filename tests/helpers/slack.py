"""Requests the way Slack sends them: payloads of the documented shapes (Events API
callback, slash command form, block_actions interaction), signed with the signing secret
(`v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`), posted over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

from tests.servers.slack_api import BOT_USER_ID, TEAM_ID

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
USER = "U0USER001"
CHANNEL = "C0CHAN001"
DM = "D0DM00001"
_seq = itertools.count(1)


def signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes, content_type: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(body, ts, secret),
    }


def post(base: str, path: str, body: bytes, content_type: str, **headers: str) -> httpx.Response:
    """POST exactly these bytes (the signature covers them) with Slack's headers."""
    sent = {**signed_headers(body, content_type), **headers}
    return httpx.post(base + path, content=body, headers=sent, timeout=30)


def new_ts() -> str:
    return f"1700001000.{next(_seq):06d}"


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": "A0APP0001",
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_seq):08d}",
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }  # fmt: skip


def mention(text: str, *, ts: str | None = None, thread_ts: str | None = None,
            channel: str = CHANNEL, user: str = USER, **extra: Any) -> dict[str, Any]:  # fmt: skip
    ts = ts or new_ts()
    event = {"type": "app_mention", "user": user, "text": f"<@{BOT_USER_ID}> {text}".rstrip(),
             "ts": ts, "channel": channel, "event_ts": ts, "team": TEAM_ID, **extra}  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def direct_message(text: str, *, ts: str | None = None, thread_ts: str | None = None,
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    ts = ts or new_ts()
    event = {"type": "message", "channel": DM, "user": USER, "text": text, "ts": ts,
             "event_ts": ts, "channel_type": "im", "team": TEAM_ID, **extra}  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def send_event(base: str, payload: dict[str, Any], **headers: str) -> httpx.Response:
    return post(base, "/slack/events", json.dumps(payload).encode(), "application/json",
                **headers)  # fmt: skip


def slash_command(base: str, text: str, response_url: str, command: str = "/stackguide"):
    form = {
        "token": "verification-token-unused", "team_id": TEAM_ID, "team_domain": "test",
        "channel_id": CHANNEL, "channel_name": "general", "user_id": USER, "user_name": "alice",
        "command": command, "text": text, "api_app_id": "A0APP0001",
        "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }  # fmt: skip
    body = urlencode(form).encode()
    return post(base, "/slack/commands", body, "application/x-www-form-urlencoded")


def click(base: str, action_id: str, value: str, response_url: str, *, message_ts: str,
          channel: str = CHANNEL, user: str = USER) -> httpx.Response:  # fmt: skip
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "api_app_id": "A0APP0001",
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                      "is_ephemeral": False},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": TEAM_ID, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "general"},
        "message": {"type": "message", "ts": message_ts, "text": "answer"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "feedback", "value": value,
                     "type": "button", "action_ts": str(time.time()),
                     "text": {"type": "plain_text", "text": "vote", "emoji": True}}],
    }  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post(base, "/slack/interactions", body, "application/x-www-form-urlencoded")
