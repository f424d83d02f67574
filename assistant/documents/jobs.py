"""Jobs: long document work (ingest, fetch, delete) run in the background, their progress
kept in the shared database so any worker can report on a job another one runs."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from assistant.conversations.tables import open_database
from assistant.errors import BackendUnavailable, NotFound, StackGuideError

log = logging.getLogger(__name__)
KINDS = ("upload", "url", "feed", "refresh", "delete", "recover")


class _Base(DeclarativeBase):
    pass


def _now() -> datetime:
    return datetime.now(UTC)


class JobRow(_Base):
    __tablename__ = "document_jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    documents: Mapped[list] = mapped_column(JSON, default=list)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # who runs it: a job whose process is gone was interrupted
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)


@dataclass
class Job:
    id: str
    kind: str
    status: str  # queued | running | done | failed
    progress: dict = field(default_factory=dict)  # {"done": n, "total": m}
    message: str = ""
    documents: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)
    created_at: str = ""
    finished_at: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def finished(self) -> bool:
        return self.status in {"done", "failed"}


@dataclass
class Outcome:
    """What a job's work returns: the message a user reads and the documents touched."""

    message: str
    documents: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)


Progress = Callable[[int, int], None]
Work = Callable[[Progress], Outcome]


class JobStore:
    def __init__(self, url: str) -> None:
        self.engine = open_database(url, _Base.metadata)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self.host = socket.gethostname()[:255]
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="documents")
        self._fail_orphans()

    # -- running ----------------------------------------------------------------------------
    def submit(self, kind: str, work: Work) -> Job:
        """Queue `work`; it runs in this process's one background thread (writes are
        serialised across processes by the index's write lock anyway)."""
        job_id = "j" + uuid.uuid4().hex[:20]
        self._write(JobRow(id=job_id, kind=kind, host=self.host, pid=os.getpid()))
        self._pool.submit(self._run, job_id, work)
        return self.get(job_id)

    def run(self, kind: str, work: Work) -> Job:
        """Run `work` now, in this thread (the CLI), recorded like a background job."""
        job_id = "j" + uuid.uuid4().hex[:20]
        self._write(JobRow(id=job_id, kind=kind, host=self.host, pid=os.getpid()))
        self._run(job_id, work)
        return self.get(job_id)

    def _run(self, job_id: str, work: Work) -> None:
        self._update(job_id, status="running")

        def progress(done: int, total: int) -> None:
            self._update(job_id, done=done, total=total)

        try:
            outcome = work(progress)
        except StackGuideError as exc:
            self._update(job_id, status="failed", message=str(exc), finished_at=_now())
            return
        except Exception as exc:  # a bug must still end the job, and say so
            log.exception("document job %s failed", job_id)
            self._update(job_id, status="failed", finished_at=_now(),
                         message=f"unexpected error: {type(exc).__name__}: {exc}")  # fmt: skip
            return
        self._update(job_id, status="done", message=outcome.message, finished_at=_now(),
                     documents=outcome.documents, report=outcome.report)  # fmt: skip

    def close(self) -> None:
        """Finish queued work, then release the thread and the database's connections."""
        self._pool.shutdown(wait=True)
        self.engine.dispose()

    # -- reading ----------------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        try:
            with self.session() as s:
                row = s.get(JobRow, job_id)
        except SQLAlchemyError as exc:
            raise BackendUnavailable("database unavailable") from exc
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return _job(row)

    def _write(self, row: JobRow) -> None:
        try:
            with self.session() as s:
                s.add(row)
                s.commit()
        except SQLAlchemyError as exc:
            raise BackendUnavailable("database unavailable") from exc

    def _update(self, job_id: str, **values) -> None:
        try:
            with self.session() as s:
                s.execute(update(JobRow).where(JobRow.id == job_id).values(**values))
                s.commit()
        except SQLAlchemyError as exc:  # progress is best effort; the work goes on
            log.warning("cannot record job %s: %s", job_id, type(exc).__name__)

    def _fail_orphans(self) -> None:
        """Jobs of this host whose process is gone were interrupted: say so."""
        with self.session() as s:
            unfinished = JobRow.status.in_(["queued", "running"])
            rows = s.scalars(select(JobRow).where(unfinished, JobRow.host == self.host)).all()
            for row in rows:
                if not _alive(row.pid):
                    row.status, row.finished_at = "failed", _now()
                    row.message = "interrupted: the server stopped; add or refresh it again"
            s.commit()


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: the signal said it exists
    return state not in ("Z", "X")


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        status=row.status,
        progress={"done": row.done, "total": row.total},
        message=row.message,
        documents=list(row.documents or []),
        report=dict(row.report or {}),
        created_at=_iso(row.created_at) or "",
        finished_at=_iso(row.finished_at),
    )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="seconds")
