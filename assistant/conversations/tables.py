"""The database the stores share (conversations, feedback, Slack's ledger, jobs): opening
it, and creating tables while other workers may be doing the same."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from assistant.errors import BackendUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 5


def create_tables(
    metadata: MetaData, engine: Engine, then: Callable[[Engine], None] | None = None
) -> None:
    """`create_all` (and `then`, a migration), tolerating other workers doing the same
    at the same moment: the loser retries once the winner is done, when all exist."""
    for attempt in range(ATTEMPTS):
        try:
            metadata.create_all(engine)
            if then is not None:
                then(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def unavailable(exc: SQLAlchemyError) -> BackendUnavailable:
    """What a client is told of a database failure: never SQL, input or connection details
    (the log has the error, credentials masked: a driver's message may quote the URL)."""
    log.error("database error: %s", mask_credentials(str(exc)))
    return BackendUnavailable("database unavailable")


def open_database(
    url: str, metadata: MetaData, then: Callable[[Engine], None] | None = None
) -> Engine:
    """An engine on `url` with `metadata`'s tables created; BackendUnavailable if not."""
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:  # a server may drop idle connections; a local file cannot
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        create_tables(metadata, engine, then=then)
    except SQLAlchemyError as exc:
        log.error("cannot open the database %s: %s", masked_url(url), type(exc).__name__)
        raise BackendUnavailable("database unavailable") from exc
    return engine


def _sqlite_pragmas(conn, _record) -> None:
    """WAL lets several server workers read while one writes; NORMAL sync is safe in WAL."""
    cur = conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def masked_url(url: str) -> str:
    """The URL with every credential masked (user, password, and `password=`-like query
    parameters), for logs: the driver, host and database stay, to tell which it was."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return "<database url>"
    query = {k: ("***" if _SECRET_PARAM.search(k) else v) for k, v in parsed.query.items()}
    masked = parsed.set(
        username="***" if parsed.username else None,
        password="***" if parsed.password else None,
        query=query,
    )
    return masked.render_as_string(hide_password=False)


_SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|user|auth|cred", re.I)
# userinfo in any URL, and key=value pairs whose key names a credential
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_PAIR = re.compile(
    r"\b(\w*(?:pass|pwd|secret|token|key|user|auth|cred)\w*)\s*=\s*('[^']*'|\"[^\"]*\"|[^\s&;,)]+)",
    re.I,
)


def mask_credentials(message: str) -> str:
    """A driver's error text with URL credentials and `password=…`-like pairs masked."""
    message = _URL_USERINFO.sub("***@", message)
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}=***", message)
