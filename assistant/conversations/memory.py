"""Conversations kept in memory: the conversation store's fake for tests about logic,
with the same owner rules as the SQL store."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from assistant.conversations.base import Conversation, Conversations, check_id, turn_records
from assistant.errors import NotFound
from assistant.models import Answer, Turn


class MemoryConversations(Conversations):
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}
        self.records: dict[str, Conversation] = {}
        self.lock = threading.Lock()

    def start(self, question: str, answer: Answer, owner: str) -> str:
        cid = uuid.uuid4().hex
        with self.lock:
            self.owners[cid] = owner
            self.records[cid] = Conversation(cid, datetime.now(UTC))
        self.append(cid, question, answer, owner)
        return cid

    def ensure(self, cid: str, owner: str) -> None:
        check_id(cid)
        with self.lock:
            if self.owners.setdefault(cid, owner) != owner:
                raise NotFound(f"no conversation {cid!r}")
            self.records.setdefault(cid, Conversation(cid, datetime.now(UTC)))

    def get(self, cid: str, owner: str | None) -> Conversation:
        with self.lock:
            record = self._owned(cid, owner)
            return Conversation(record.id, record.created_at, [dict(t) for t in record.turns])

    def recent(self, cid: str, turns: int, owner: str) -> list[Turn]:
        with self.lock:
            record = self._owned(cid, owner)
            last = record.turns[-turns:] if turns else []
            return [Turn(t["role"], t["standalone"] or t["content"]) for t in last]

    def append(self, cid: str, question: str, answer: Answer, owner: str) -> None:
        now = datetime.now(UTC).isoformat()
        with self.lock:
            record = self._owned(cid, owner)
            record.turns += [{**t, "created_at": now} for t in turn_records(question, answer)]

    def delete(self, cid: str, owner: str) -> None:
        with self.lock:
            self._owned(cid, owner)
            del self.records[cid], self.owners[cid]

    def _owned(self, cid: str, owner: str | None) -> Conversation:
        check_id(cid)
        if cid not in self.records or (owner is not None and self.owners[cid] != owner):
            raise NotFound(f"no conversation {cid!r}")
        return self.records[cid]
