"""Whose conversation an HTTP request may read or continue.

With API keys on, conversations belong to the key that started them. Without keys, a
conversation belongs to a token handed out when it starts (`conversation_token` in the
answer); later requests present it in the `X-Conversation-Token` header. Either way, only a
digest is stored, and another caller's conversation is a plain 404.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from fastapi import Request

TOKEN_HEADER = "X-Conversation-Token"
NOBODY = "nobody"  # the owner of no stored conversation: what an anonymous caller gets


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


@dataclass(frozen=True)
class Caller:
    owner: str
    new_token: str | None = None  # to hand back when a conversation starts under it


def conversation_caller(request: Request, starting: bool = False) -> Caller:
    """The owner for this request (`require_api_key` has already checked any key).
    `starting`: the request may start a conversation, so a caller without keys or a
    token gets a fresh token."""
    if request.app.state.settings.api_keys:
        return Caller("key:" + digest(presented_key(request) or ""))
    token = request.headers.get(TOKEN_HEADER)
    if token:
        return Caller("token:" + digest(token))
    if starting:
        token = secrets.token_urlsafe(24)
        return Caller("token:" + digest(token), token)
    return Caller(NOBODY)
