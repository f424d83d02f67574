"""The conversation store seam: SQL (`store.py`) or in-process (`memory.py`).

Every conversation has an owner (an opaque string the edge derives: a hashed API key, a
hashed conversation token, "slack", "local"). Every read and write names the owner, and a
conversation of another owner is NotFound exactly like one that does not exist, so ids
cannot be probed.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime

from assistant.errors import NotFound
from assistant.models import Answer, Turn


@dataclass
class Conversation:
    id: str
    created_at: datetime
    turns: list[dict] = field(default_factory=list)


class Conversations(ABC):
    @abstractmethod
    def start(self, question: str, answer: Answer, owner: str) -> str:
        """A new conversation of `owner` with its first turn; its id."""

    @abstractmethod
    def ensure(self, cid: str, owner: str) -> None:
        """Conversation `cid` of `owner` exists afterwards (ids an edge derives, such as a
        Slack thread's); NotFound when it is another owner's."""

    @abstractmethod
    def get(self, cid: str, owner: str | None) -> Conversation:
        """The whole record; `owner=None` skips the check (operators' tools, never a
        request from outside)."""

    @abstractmethod
    def recent(self, cid: str, turns: int, owner: str) -> list[Turn]:
        """The last `turns` turns as the assistant reads them (a user turn as understood)."""

    @abstractmethod
    def append(self, cid: str, question: str, answer: Answer, owner: str) -> None: ...

    @abstractmethod
    def delete(self, cid: str, owner: str) -> None: ...


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_id(cid: str) -> None:
    """Ids are ours (hex, or an edge's derived ones); anything else cannot exist."""
    if not isinstance(cid, str) or not _ID.fullmatch(cid):
        raise NotFound(f"no conversation {str(cid)[:64]!r}")


def turn_records(question: str, answer: Answer) -> list[dict]:
    """The two turns one answer adds: the question (with its standalone form) and the
    whole answer object, as JSON-safe data."""
    data = json.loads(json.dumps(answer.to_dict(), default=str))
    return [
        {"role": "user", "content": question, "standalone": answer.standalone_question,
         "answer": None},
        {"role": "assistant", "content": answer.answer, "standalone": None, "answer": data},
    ]  # fmt: skip
