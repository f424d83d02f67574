"""Votes kept through SQLAlchemy, in the database conversations use."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, Integer, String, Text, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from assistant.conversations.tables import open_database, unavailable
from assistant.feedback.base import FeedbackStore


class _Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class FeedbackRow(_Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[dict] = mapped_column(JSON)
    vote: Mapped[str] = mapped_column(String(8))  # "up" | "down"
    user: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))  # where the vote came from (slack, web)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SqlFeedbackStore(FeedbackStore):
    def __init__(self, url: str) -> None:
        self.session = sessionmaker(open_database(url, _Base.metadata), expire_on_commit=False)

    def add(self, question: str, answer: dict, vote: str, user: str, source: str) -> None:
        try:
            with self.session() as s:
                s.add(FeedbackRow(question=question, answer=answer, vote=vote, user=user,
                                  source=source))  # fmt: skip
                s.commit()
        except SQLAlchemyError as exc:
            raise unavailable(exc) from exc

    def all(self) -> list[dict]:
        try:
            with self.session() as s:
                rows = s.scalars(select(FeedbackRow).order_by(FeedbackRow.id)).all()
        except SQLAlchemyError as exc:
            raise unavailable(exc) from exc
        return [
            {"id": r.id, "question": r.question, "answer": r.answer, "vote": r.vote,
             "user": r.user, "source": r.source, "created_at": r.created_at.isoformat()}
            for r in rows
        ]  # fmt: skip
