"""The files behind documents added through the API: uploads, and the Markdown copy of
each fetched article (the last good copy: a page that later fails keeps it).

    DATA_DIR/documents/files/NAME      an upload, cited as uploads/NAME
    DATA_DIR/documents/web/KEY.md      an article, cited by its URL
    DATA_DIR/documents/web/KEY.json    its ETag, Last-Modified and when it was fetched
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
import uuid
from pathlib import Path

from assistant.documents.catalog import is_url
from assistant.errors import InvalidQuestion, Unsupported
from ingest.loaders import SUPPORTED
from ingest.pipeline import Named

UPLOADS = "uploads"
NAME_CHARS = 120


class Copies:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "files"
        self.web = root / "web"
        self.incoming = root / ".incoming"  # hidden: never read as a corpus folder

    # -- uploads ----------------------------------------------------------------------------
    def upload_target(self, filename: str) -> Named:
        """Where an upload named `filename` is kept, and the name it is cited by."""
        name = safe_name(filename)
        path = (self.files / name).absolute()
        return Named(path, f"{UPLOADS}/{name}", str(path))

    def stage(self, data: bytes, suffix: str) -> Path:
        """Write `data` beside the copies, not yet one of them (checked first, then moved
        into place: a bad upload leaves nothing behind)."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        path = self.incoming / f"{uuid.uuid4().hex}{suffix}"
        path.write_bytes(data)
        return path

    # -- fetched articles -------------------------------------------------------------------
    def article_target(self, url: str) -> Named:
        key = hashlib.sha256(url.encode()).hexdigest()[:24]
        return Named((self.web / f"{key}.md").absolute(), url, url)

    def article_meta(self, url: str) -> dict:
        return _json(self._meta_path(url))

    def save_article(self, url: str, text: str, meta: dict) -> bool:
        """Keep the article's Markdown and its fetch metadata; False when the text is what
        was kept already."""
        target = self.article_target(url)
        changed = _read(target.path) != text
        if changed:
            _atomic_write(target.path, text.encode())
        _atomic_write(self._meta_path(url), json.dumps(meta, indent=1).encode())
        return changed

    def _meta_path(self, url: str) -> Path:
        return self.article_target(url).path.with_suffix(".json")

    # -- both -------------------------------------------------------------------------------
    def remove(self, origin: str) -> None:
        """Delete the copy behind a document (nothing for files the API does not keep)."""
        if is_url(origin):
            paths = [self.article_target(origin).path, self._meta_path(origin)]
        elif Path(origin).is_relative_to(self.files.absolute()):
            paths = [Path(origin)]
        else:
            paths = []
        for path in paths:
            path.unlink(missing_ok=True)

    def series_targets(self, series: str | None) -> list[Named]:
        """The kept articles of one series (none for no series)."""
        if not series or not self.web.is_dir():
            return []
        metas = (_json(p) for p in sorted(self.web.glob("*.json")))
        return [self.article_target(m["url"]) for m in metas
                if m.get("series") == series and m.get("url")]  # fmt: skip

    def targets(self) -> list[Named]:
        """Every kept copy, named as it is cited: what a rebuild or recovery re-reads."""
        out: list[Named] = []
        if self.files.is_dir():
            out += [self.upload_target(p.name) for p in sorted(self.files.iterdir()) if p.is_file()]
        if self.web.is_dir():
            for meta_path in sorted(self.web.glob("*.json")):
                url = _json(meta_path).get("url")
                if url and self.article_target(url).path.exists():
                    out.append(self.article_target(url))
        return out


def safe_name(filename: str) -> str:
    """An upload's file name made safe to keep: its last path part, no control or shell
    characters, not hidden; the type must be one ingest reads."""
    given = unicodedata.normalize("NFC", re.split(r"[\\/]", filename or "")[-1])
    name = re.sub(r"[^\w.\- ]", "_", given).strip(" .")
    if not name:
        raise InvalidQuestion("the uploaded file needs a name (e.g. notes.md)")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED:
        kinds = ", ".join(sorted(SUPPORTED))
        raise Unsupported(f"{name}: not a type StackGuide reads ({kinds})")
    suffix = suffix.lower()
    kept = f"{stem[: NAME_CHARS - len(suffix) - 1]}.{suffix}"
    if kept != given:  # changed to be safe: two names must not become one copy
        tag = hashlib.sha256(given.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        kept = f"{stem[: NAME_CHARS - len(suffix) - 10]}-{tag}.{suffix}"
    return kept


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
