"""Creating tables in the database the stores share, while other workers may be too."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

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
