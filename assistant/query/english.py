"""How much English uses a word (wordfreq): what tells a tool's name from a word.

wordfreq reads its whole English list (and imports langcodes) on first use, ~0.15 s:
more than the rest of a cold answer. Plain lowercase words, nearly all that is looked
up, are read instead from a table of wordfreq's own answers for every such word it
lists, built once per wordfreq version in the user cache (a plain word it does not list
scores 0). Any other word, or no table, asks wordfreq itself.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

log = logging.getLogger(__name__)

ALONE_ZIPF = 2.0  # rarer than this, a word the corpus lacks is a name wherever it stands
_PLAIN = re.compile(r"[a-z]+")
_lock = threading.Lock()
_db: sqlite3.Connection | None = None
_opened = False


@lru_cache(maxsize=50_000)
def english_zipf(word: str) -> float:
    if _PLAIN.fullmatch(word):
        db = _table()
        if db is not None:
            with _lock:
                row = db.execute("SELECT zipf FROM words WHERE word = ?", (word,)).fetchone()
            return row[0] if row else 0.0
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_english(word: str) -> bool:
    """A word English uses ("flaky", "cleanest"), so never a misspelt name."""
    return english_zipf(word.lower()) >= ALONE_ZIPF


def table_path() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "stackguide" / f"english-zipf-wordfreq-{version('wordfreq')}.sqlite"


def _table() -> sqlite3.Connection | None:
    global _db, _opened
    with _lock:
        if not _opened:
            _opened = True
            path = table_path()
            try:
                if not path.exists():
                    build_table(path)
                _db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            except (OSError, sqlite3.Error) as exc:  # an unwritable cache: wordfreq it is
                log.warning("English word table unavailable (%s): using wordfreq directly", exc)
                _db = None
        return _db


def build_table(path: Path) -> None:
    """wordfreq's Zipf value of every plain lowercase word on its English list (~2 s)."""
    from wordfreq import get_frequency_dict, zipf_frequency

    rows = [(w, zipf_frequency(w, "en")) for w in get_frequency_dict("en") if _PLAIN.fullmatch(w)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        with sqlite3.connect(tmp) as db:
            db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, zipf REAL) WITHOUT ROWID")
            db.executemany("INSERT INTO words VALUES (?, ?)", rows)
        db.close()
        os.replace(tmp, path)  # atomic: a reader sees the whole table or none
    finally:
        tmp.unlink(missing_ok=True)
