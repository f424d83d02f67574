"""Conversations kept through SQLAlchemy: SQLite in the data directory by default,
PostgreSQL (or any SQLAlchemy URL) when STACKGUIDE_DATABASE_URL says so.

Owners as in `base.py`: another owner's conversation is NotFound, like a missing one.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
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

from assistant.conversations.base import Conversation, Conversations, check_id, turn_records
from assistant.conversations.tables import open_database, unavailable
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


class ConversationStore(Conversations):
    """Conversations kept through SQLAlchemy (SQLite in the data dir, or PostgreSQL)."""

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
        check_id(cid)
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
        check_id(cid)
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
        check_id(cid)
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
        check_id(cid)
        with self._core() as conn:
            # The row lock keeps two concurrent turns of one conversation from interleaving.
            found = conn.execute(_owned(cid, owner).with_for_update()).first()
            if found is None:
                raise NotFound(f"no conversation {cid!r}")
            conn.execute(insert(TurnRow.__table__), _turn_rows(cid, question, answer))

    def delete(self, cid: str, owner: str) -> None:
        check_id(cid)
        with self._tx() as s:
            row = s.get(ConversationRow, cid)
            if row is None or row.owner != owner:
                raise NotFound(f"no conversation {cid!r}")
            s.execute(delete(TurnRow).where(TurnRow.conversation_id == cid))
            s.execute(delete(ConversationRow).where(ConversationRow.id == cid))

    def _tx(self):
        return _Transaction(self.session)

    @contextmanager
    def _core(self):
        """A connection in a transaction, database failures translated like `_tx`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise unavailable(exc) from exc


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
            raise unavailable(err) from err
        finally:
            self.s.close()
        if isinstance(exc, SQLAlchemyError):
            raise unavailable(exc) from exc


def _owned(cid: str, owner: str):
    return select(ConversationRow.id).where(
        ConversationRow.id == cid, ConversationRow.owner == owner
    )


def _turn_rows(cid: str, question: str, answer: Answer) -> list[dict]:
    extra = {"conversation_id": cid, "created_at": _now()}
    return [{**t, **extra} for t in turn_records(question, answer)]


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
