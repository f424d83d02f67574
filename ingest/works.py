"""Which work each file belongs to: a guide split over many files is one work.

A file directly in an ingested folder is a work of its own (an article). The files under
one sub-folder of it are one work (a guide, a manual), titled by that folder's index page
(`index.md`, `README.md`, `index.html`, …) or else by the folder's name. Articles whose
front matter gives the same `series` are one work wherever they are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from assistant.errors import IngestError
from ingest.loaders import front_matter

INDEX_PAGES = ("index", "readme", "contents", "intro", "introduction")


def work_key(source: str, meta: dict) -> str:
    """What groups a file with the others of its work ("" for a work of its own)."""
    if meta.get("series"):
        return f"series:{meta['series']}"
    parts = PurePosixPath(source).parts
    return "/".join(parts[:2]) if len(parts) >= 3 else ""


def index_pages(files: Iterable[tuple[Path, str]]) -> dict[str, Path]:
    """For each folder work, the page that introduces it, if it has one (the shallowest
    index page under the folder)."""
    best: dict[str, tuple[int, int, Path]] = {}
    for path, source in files:
        key = work_key(source, {})
        stem = path.stem.lower()
        if not key or stem not in INDEX_PAGES:
            continue
        rank = (len(PurePosixPath(source).parts), INDEX_PAGES.index(stem), path)
        if key not in best or rank < best[key]:
            best[key] = rank
    return {key: rank[2] for key, rank in best.items()}


def folder_title(key: str) -> str:
    """A readable name for a folder work without an index page ('docs' → 'docs')."""
    name = PurePosixPath(key).name
    return name.replace("-", " ").replace("_", " ").strip() or key


def series_sizes(paths: Iterable[Path]) -> Counter[str]:
    """How many Markdown files name each front-matter `series` (read from their heads,
    by the loader's own front-matter reader and its checks)."""
    sizes: Counter[str] = Counter()
    for path in paths:
        if path.suffix.lower() not in {".md", ".markdown"}:
            continue
        try:
            with path.open("rb") as f:
                head = f.read(8192).decode("utf-8-sig", "replace")
            meta, _ = front_matter(head, str(path))
        except (OSError, IngestError):
            continue  # the loader reports an unreadable file; here it is simply no series
        if meta.get("series"):
            sizes[str(meta["series"])] += 1
    return sizes
