"""The feedback store seam: SQL (`store.py`) or in-process (`memory.py`)."""

from __future__ import annotations

from abc import ABC, abstractmethod


class FeedbackStore(ABC):
    @abstractmethod
    def add(self, question: str, answer: dict, vote: str, user: str, source: str) -> None:
        """Keep one vote ("up" | "down") on an answer, with who gave it and where."""

    @abstractmethod
    def all(self) -> list[dict]:
        """Every vote, oldest first: id, question, answer, vote, user, source, created_at."""
