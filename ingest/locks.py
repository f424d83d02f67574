"""Who may write the index, so there is never more than one writer.

- `write_lock`: every write on this host (an API job in any worker, the CLI, a first-run
  ingest) holds an exclusive lock on a file in the data directory; writers queue.
- `serving`: `stackguide serve` holds a shared lock for as long as it runs. An embedded
  Chroma store must be written by one process only, so a CLI write while a server runs on
  the same data directory is refused (`refuse_if_served`) and pointed at the server's
  API; with a Chroma server, writes from anywhere are the server's to order.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import Conflict
from assistant.settings import Settings

WRITE_LOCK = "index.lock"
SERVING_LOCK = "serving.lock"


def _lock_file(settings: Settings, name: str) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return os.open(Path(settings.data_dir) / name, os.O_RDWR | os.O_CREAT, 0o600)


@contextmanager
def write_lock(settings: Settings) -> Iterator[None]:
    """Hold the index's write lock (waiting for another writer to finish)."""
    fd = _lock_file(settings, WRITE_LOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock, also when the process dies


@contextmanager
def serving(settings: Settings) -> Iterator[None]:
    """Mark the data directory as served for as long as the block runs."""
    fd = _lock_file(settings, SERVING_LOCK)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)


def refuse_if_served(settings: Settings) -> None:
    """Conflict when a server runs on this embedded index: it is the one writer."""
    if settings.chroma_url:
        return
    fd = _lock_file(settings, SERVING_LOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise Conflict(
                f"a StackGuide server (pid {pid}) is serving the index in "
                f"{settings.data_dir}: add or remove documents through its API "
                "(POST /v1/documents, DELETE /v1/documents/ID, with an admin key), or stop "
                "it first. Two processes must not write one embedded index."
            ) from None
    finally:
        os.close(fd)
