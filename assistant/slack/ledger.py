"""Slack event ids already taken, in the conversations database.

Slack redelivers an event (same `event_id`, header `X-Slack-Retry-Num`) when it did not
get a 200 in time, or when the first delivery never arrived. Taking an id is one INSERT
on its primary key: the first delivery wins, in any process sharing the database, even
while its answer is still being written; a redelivery of an event that never arrived is
the first and is answered. An id whose answer could not reach Slack (Slack unreachable)
is released, so that Slack's redelivery of it is answered.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, delete
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from assistant.conversations.tables import create_tables, open_database
from assistant.errors import BackendUnavailable

log = logging.getLogger(__name__)
KEEP = timedelta(days=2)  # Slack retries for minutes: older ids only take up room
PRUNE_EVERY = 500  # takes
RECENT = 10_000  # ids also remembered in memory: a retry is caught even when the DB is down


class _Base(DeclarativeBase):
    pass


class SlackEventRow(_Base):
    __tablename__ = "slack_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class EventLedger:
    @classmethod
    def open(cls, url: str) -> EventLedger:
        """A ledger in the database at `url` (the one conversations use)."""
        return cls(open_database(url, _Base.metadata))

    def __init__(self, engine: Engine) -> None:
        _create_table(engine)
        self.session = sessionmaker(engine)
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._takes = 0

    def take(self, event_id: str) -> bool:
        """True the first time `event_id` is seen; False for every redelivery.

        Raises BackendUnavailable when the database fails (the id is then still
        remembered by this process, so its own retries stay single)."""
        event_id = event_id[:64]
        with self._lock:
            if event_id in self._recent:
                return False
            self._recent[event_id] = None
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            self._takes += 1
            prune = self._takes % PRUNE_EVERY == 1
        now = datetime.now(UTC)
        with self.session() as s:
            try:
                s.add(SlackEventRow(event_id=event_id, taken_at=now))
                s.commit()
            except IntegrityError:
                return False  # another process took it first
            except SQLAlchemyError as exc:
                log.error("slack event ledger: %s", exc)
                raise BackendUnavailable("database error (details in the server log)") from exc
        if prune:
            self.prune(now - KEEP)
        return True

    def release(self, event_id: str) -> None:
        """Forget a taken id whose answer never reached Slack: its redelivery is a first.

        A database failure is logged, not raised: the caller is already handling one."""
        event_id = event_id[:64]
        with self._lock:
            self._recent.pop(event_id, None)
        try:
            with self.session() as s:
                s.execute(delete(SlackEventRow).where(SlackEventRow.event_id == event_id))
                s.commit()
        except SQLAlchemyError as exc:
            log.error("slack event ledger: cannot release %s: %s", event_id, exc)

    def prune(self, before: datetime) -> None:
        try:
            with self.session() as s:
                s.execute(delete(SlackEventRow).where(SlackEventRow.taken_at < before))
                s.commit()
        except SQLAlchemyError as exc:  # only housekeeping: the next prune tries again
            log.warning("slack event ledger: prune failed: %s", exc)


def _create_table(engine: Engine) -> None:
    try:
        create_tables(_Base.metadata, engine)
    except (OperationalError, ProgrammingError, IntegrityError) as exc:
        log.error("cannot create the slack_events table: %s", exc)
        raise BackendUnavailable("cannot open the Slack event ledger") from exc
