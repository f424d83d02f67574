"""Conversations kept through SQLAlchemy: SQLite in the data directory by default,
PostgreSQL (or any SQLAlchemy URL) when STACKGUIDE_DATABASE_URL says so.

Every conversation has an owner (an opaque string the edge derives: a hashed API key, a
hashed conversation token, "slack", "local"). Every read and write names the owner, and a
conversation of another owner is reported exactly like one that does not exist, so ids
cannot be probed.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from assistant.conversations.tables import mask_credentials, open_database
from assistant.errors import BackendUnavailable, NotFound
from assistant.models import Answer, Turn

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationRow(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # NULL only for conversations stored before owners existed: nobody's, so unreachable
    owner: Mapped[str | None] = mapped_column(String(80), nullable=True)


class TurnRow(Base):
    __tablename__ = "turns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # the follow-up as understood (user turns) or the whole answer object (assistant turns)
    standalone: Mapped[str | None] = mapped_column(Text, nullable=True)
    answer: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[dict] = mapped_column(JSON)
    vote: Mapped[str] = mapped_column(String(8))  # "up" | "down"
    user: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(32))  # where the vote came from (slack, web)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass
class Conversation:
    id: str
    created_at: datetime
    turns: list[dict] = field(default_factory=list)


class ConversationStore:
    def __init__(self, url: str) -> None:
        self.engine = open_database(url, Base.metadata, then=_add_owner_column)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def create(self, owner: str) -> str:
        cid = uuid.uuid4().hex
        with self._tx() as s:
            s.add(ConversationRow(id=cid, owner=owner))
        return cid

    def start(self, question: str, answer: Answer, owner: str) -> str:
        """A new conversation with its first turn, in one transaction (one commit).

        Core inserts, not the ORM: this runs on every answered request, and the unit of
        work's bookkeeping cost more than the SQL.
        """
        cid = uuid.uuid4().hex
        with self._core() as conn:
            conn.execute(
                insert(ConversationRow.__table__).values(id=cid, created_at=_now(), owner=owner)
            )
            conn.execute(insert(TurnRow.__table__), _turn_rows(cid, question, answer))
        return cid

    def ensure(self, cid: str, owner: str) -> None:
        """Conversation `cid` of `owner` exists afterwards: for ids an edge derives (a Slack
        thread's). NotFound when the id is another owner's."""
        _check_id(cid)
        try:
            with self._tx() as s:
                row = s.get(ConversationRow, cid)
                if row is None:
                    s.add(ConversationRow(id=cid, owner=owner))
                elif row.owner != owner:
                    raise NotFound(f"no conversation {cid!r}")
        except BackendUnavailable as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            # another worker created it at the same moment: check whose it is
            self.recent(cid, 0, owner)

    def get(self, cid: str, owner: str | None) -> Conversation:
        """The whole record. `owner=None` skips the owner check: for operators' tools
        (the CLI, tests), never for a request from outside."""
        _check_id(cid)
        with self._tx() as s:
            row = s.get(ConversationRow, cid)
            if row is None or (owner is not None and row.owner != owner):
                raise NotFound(f"no conversation {cid!r}")
            turns = s.scalars(
                select(TurnRow).where(TurnRow.conversation_id == cid).order_by(TurnRow.id)
            ).all()
            return Conversation(
                id=row.id,
                created_at=row.created_at,
                turns=[
                    {"role": t.role, "content": t.content, "standalone": t.standalone,
                     "answer": t.answer, "created_at": t.created_at.isoformat()}
                    for t in turns
                ],
            )  # fmt: skip

    def recent(self, cid: str, turns: int, owner: str) -> list[Turn]:
        """The last `turns` turns as the assistant needs them (user turns in their
        standalone form), without loading a long conversation's whole record."""
        _check_id(cid)
        with self._core() as conn:
            if conn.execute(_owned(cid, owner)).first() is None:
                raise NotFound(f"no conversation {cid!r}")
            rows = conn.execute(
                select(TurnRow.role, TurnRow.content, TurnRow.standalone)
                .where(TurnRow.conversation_id == cid)
                .order_by(TurnRow.id.desc())
                .limit(turns)
            ).all()
        return [Turn(role, standalone or content) for role, content, standalone in reversed(rows)]

    def append(self, cid: str, question: str, answer: Answer, owner: str) -> None:
        _check_id(cid)
        with self._core() as conn:
            # The row lock keeps two concurrent turns of one conversation from interleaving.
            found = conn.execute(_owned(cid, owner).with_for_update()).first()
            if found is None:
                raise NotFound(f"no conversation {cid!r}")
            conn.execute(insert(TurnRow.__table__), _turn_rows(cid, question, answer))

    def delete(self, cid: str, owner: str) -> None:
        _check_id(cid)
        with self._tx() as s:
            row = s.get(ConversationRow, cid)
            if row is None or row.owner != owner:
                raise NotFound(f"no conversation {cid!r}")
            s.execute(delete(TurnRow).where(TurnRow.conversation_id == cid))
            s.execute(delete(ConversationRow).where(ConversationRow.id == cid))

    def add_feedback(self, question: str, answer: dict, vote: str, user: str, source: str) -> None:
        with self._tx() as s:
            s.add(FeedbackRow(question=question, answer=answer, vote=vote, user=user,
                              source=source))  # fmt: skip

    def feedback(self) -> list[dict]:
        with self._tx() as s:
            rows = s.scalars(select(FeedbackRow).order_by(FeedbackRow.id)).all()
            return [
                {"id": r.id, "question": r.question, "answer": r.answer, "vote": r.vote,
                 "user": r.user, "source": r.source, "created_at": r.created_at.isoformat()}
                for r in rows
            ]  # fmt: skip

    def _tx(self):
        return _Transaction(self.session)

    @contextmanager
    def _core(self):
        """A connection in a transaction, database failures translated like `_tx`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc


class _Transaction:
    """A session that commits on success, rolls back on error, and turns database
    failures into BackendUnavailable (a clear 503, never a stack trace)."""

    def __init__(self, factory: sessionmaker) -> None:
        self.s = factory()

    def __enter__(self):
        return self.s

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.s.commit()
            else:
                self.s.rollback()
        except SQLAlchemyError as err:
            raise _unavailable(err) from err
        finally:
            self.s.close()
        if isinstance(exc, SQLAlchemyError):
            raise _unavailable(exc) from exc


def _unavailable(exc: SQLAlchemyError) -> BackendUnavailable:
    # Never echo SQL, user input or connection details to the client: the log has the
    # error (a driver's message may quote the URL, so it is masked there too).
    log.error("database error: %s", mask_credentials(str(exc)))
    return BackendUnavailable("database unavailable")


def _owned(cid: str, owner: str):
    return select(ConversationRow.id).where(
        ConversationRow.id == cid, ConversationRow.owner == owner
    )


def _turn_rows(cid: str, question: str, answer: Answer) -> list[dict]:
    data = json.loads(json.dumps(answer.to_dict(), default=str))
    now = _now()
    return [
        {"conversation_id": cid, "role": "user", "content": question,
         "standalone": answer.standalone_question, "answer": None, "created_at": now},
        {"conversation_id": cid, "role": "assistant", "content": answer.answer,
         "standalone": None, "answer": data, "created_at": now},
    ]  # fmt: skip


_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_id(cid: str) -> None:
    """Ids are ours (hex); anything else cannot exist, whatever the database."""
    if not _ID.fullmatch(cid or ""):
        raise NotFound(f"no conversation {cid[:64]!r}")


def _add_owner_column(engine) -> None:
    """Databases from before owners: add the column. A Slack thread's id says it is
    Slack's; other old conversations stay ownerless, so no caller can reach them."""
    columns = {c["name"] for c in inspect(engine).get_columns(ConversationRow.__tablename__)}
    if "owner" in columns:
        return
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE conversations ADD COLUMN owner VARCHAR(80)"))
        conn.execute(
            update(ConversationRow.__table__)
            .where(ConversationRow.id.like("slack-%"))
            .values(owner="slack")
        )
