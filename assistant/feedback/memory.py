"""Votes kept in memory, in order: the feedback store's fake for tests about logic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from assistant.feedback.base import FeedbackStore


class MemoryFeedbackStore(FeedbackStore):
    def __init__(self) -> None:
        self.votes: list[dict] = []
        self.lock = threading.Lock()

    def add(self, question: str, answer: dict, vote: str, user: str, source: str) -> None:
        with self.lock:
            self.votes.append({"id": len(self.votes) + 1, "question": question, "answer": answer,
                               "vote": vote, "user": user, "source": source,
                               "created_at": datetime.now(UTC).isoformat()})  # fmt: skip

    def all(self) -> list[dict]:
        with self.lock:
            return [dict(v) for v in self.votes]
