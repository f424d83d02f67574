"""Incremental ingest: load → chunk → embed only what changed → store + BM25.

Chunk ids derive from content and place, so the plan is a set difference against what
the store already holds: unchanged files cost no embedding, changed files have their
stale chunks removed, deleted files disappear. Writes go store-first, then the BM25
index, then the generation marker; an ingest killed anywhere is finished by the next.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from assistant.errors import ConfigError, IngestError
from assistant.index.identity import INDEX_FORMAT, model_identity
from assistant.index.lexical import LexicalIndex, generation_of
from assistant.index.vectors import VectorStore, open_store
from assistant.index.vectors.served import ServedIndex
from assistant.models import ChunkRecord
from assistant.settings import Settings
from ingest.chunking import Chunk, chunk_document
from ingest.loaders import SUPPORTED, SourceDocument, load
from ingest.works import folder_title, index_pages, series_sizes, work_key

log = logging.getLogger(__name__)
BATCH_CHUNKS = 128  # chunks embedded (their texts sorted by length together) per store write


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # unsupported file types
    # Links (and unreadable folders) not read, and why.
    not_followed: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Passages (by source) that give orders to the assistant: stored nowhere.
    kept_out: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    chunks_total: int = 0
    # What the files read in this run hold (unchanged files included).
    sections: int = 0
    tables: int = 0
    nav: int = 0  # link lists, tables of contents, badges: read, never evidence
    chunks_read: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        skipped = len(self.skipped) + len(self.not_followed)
        text = (
            f"{self.files} files ({self.sections} sections, {self.tables} tables, "
            f"{self.chunks_read} chunks; {self.nav} link lists kept out of evidence), "
            f"{self.added} chunks added, {self.updated} updated, "
            f"{self.removed} removed, {skipped} skipped, {len(self.failed)} failed, "
            f"{self.chunks_total} in index, {self.seconds:.1f}s"
        )
        if self.kept_out:
            n = sum(map(len, self.kept_out.values()))
            text += (
                f"; {n} passage{'s' * (n != 1)} addressed to the assistant kept out of "
                f"evidence, in {', '.join(self.kept_out)}"
            )
        return text


@dataclass(frozen=True)
class Named:
    """A file to ingest under a name and identity of the caller's choosing: a fetched
    article is stored as a file but cited by, and known by, its URL."""

    path: Path
    source: str
    origin: str


@dataclass
class Discovery:
    files: list[tuple[Path, str]]  # to ingest, with their source names
    origins: dict[Path, str]  # identities other than the absolute path (`Named`)
    skipped: list[str]  # unsupported types
    scopes: list[str]  # absolute roots: a known file under one that vanished was deleted
    not_followed: list[tuple[str, str]]  # links (and unreadable folders) not read, and why


def discover(paths: Iterable[Path | Named], *, follow_symlinks: bool = False) -> Discovery:
    """The files under `paths`, named relative to their root's parent ('corpus/x.md'),
    whatever the working directory.

    Files are known by absolute path, and a scope is an absolute root under which a file
    that vanished counts as deleted (two roots both named `html/` can't mix). Symbolic
    links leading out of a root are not followed unless `follow_symlinks`.
    """
    out = Discovery([], {}, [], [], [])
    for root in paths:
        if isinstance(root, Named):
            out.files.append((root.path, root.source))
            out.origins[root.path] = root.origin
            out.scopes.append(root.origin)
            continue
        root = Path(root).absolute()
        if not root.exists():
            raise IngestError(str(root), "no such file or directory")
        base = root.parent
        if root.is_file():  # named by the caller: read, link or not
            candidates = [root]
            out.scopes.append(str(root))
        else:
            candidates, links = _walk(root, follow_symlinks)
            hidden = root.name.startswith(".")  # as are its files, like any hidden folder's
            candidates = [] if hidden else candidates
            out.not_followed += [(_name(p.relative_to(base)), why) for p, why in links]
            out.scopes.append(str(root) + os.sep)
        for p in candidates:
            source = _name(p.relative_to(base))
            if p.suffix.lower() in SUPPORTED:
                out.files.append((p, source))
            else:
                out.skipped.append(source)
    return out


def _walk(root: Path, follow_symlinks: bool) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under `root` (hidden folders not entered), and the links not followed.

    A link that stays inside the folder is read as the file it names (a linked folder is
    not walked again: its files are met under their own names). One that leads out of it
    is not followed unless asked: dropping a link into a corpus must not publish
    /etc/hostname.
    """
    inside = root.resolve()
    files: list[Path] = []
    links: list[tuple[Path, str]] = []
    walked = {inside}
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            links.append((folder, f"cannot read folder ({exc.strerror or exc})"))
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                target = path.resolve()
                if not target.exists():
                    links.append((path, "broken symbolic link"))
                    continue
                outside = not target.is_relative_to(inside)
                if outside and not follow_symlinks:
                    links.append((path, f"symbolic link out of {root.name}/, not followed"))
                    continue
                if target.is_dir():
                    if outside and target not in walked:  # asked to: walk it, once
                        walked.add(target)
                        folders.append(path)
                    continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(path)
            elif path.is_file():
                files.append(path)
    return sorted(files), sorted(links)


def _name(relative: Path) -> str:
    """A source name that can be printed and stored: a byte that is not UTF-8 in a file
    name is shown as `\\xff`."""
    return os.fsencode(relative.as_posix()).decode("utf-8", "backslashreplace")


def run_ingest(
    paths: Iterable[Path | Named],
    settings: Settings,
    *,
    store: VectorStore | None = None,
    embedder=None,
    progress: Callable[[int, int], None] | None = None,
    follow_symlinks: bool = False,
) -> IngestReport:
    """Bring the index in line with the files under `paths`; symbolic links leading out
    of a folder are read only with `follow_symlinks`."""
    t0 = time.perf_counter()
    report = IngestReport()
    found = discover(paths, follow_symlinks=follow_symlinks)
    files, scopes = found.files, found.scopes
    report.skipped, report.not_followed = found.skipped, found.not_followed
    report.files = len(files)
    store = store or open_store(settings)
    existing = store.ids_by("origin")
    state = store.state()
    if existing and state.get("format") != INDEX_FORMAT:
        log.warning("index format changed: re-embedding everything")
        store.delete(sorted(i for ids in existing.values() for i in ids))
        existing = {}
    # Mark the index as being written before touching it, clean again only at the end:
    # a run that finds it unclean reconciles units and BM25 even if the ids look settled.
    interrupted = state.get("clean") == "0"
    store.set_state(format=INDEX_FORMAT, clean="0")

    # Chunks are embedded and stored as files are read, a batch at a time, so memory
    # holds one batch however large the corpus.
    stale: set[str] = set()
    seen: set[str] = set()
    works = _Works(files)
    with _Writer(store, settings, embedder, progress) as writer:
        for path, source in files:
            origin = found.origins.get(path, str(path))
            seen.add(origin)
            try:
                doc = load(path, source, origin=found.origins.get(path))
                chunked = chunk_document(
                    doc, settings.chunk_max_chars, settings.prompts_dir, work=works.title(doc)
                )
                chunks, kept_out = chunked.chunks, chunked.kept_out
            except IngestError as exc:
                report.failed.append((exc.path, exc.reason))
                continue  # keep whatever the store had for it: a bad edit loses nothing
            except Exception as exc:  # a loader bug must not cost the other files
                log.exception("unexpected error reading %s", source)
                report.failed.append((source, f"unexpected error: {type(exc).__name__}: {exc}"))
                continue
            report.sections += chunked.sections
            report.tables += chunked.tables
            report.nav += chunked.nav
            report.chunks_read += len(chunks)
            if kept_out:
                report.kept_out[source] = kept_out
                log.info("%s: %d passages address the assistant: kept out", source, len(kept_out))
            have = existing.get(doc.origin, set())
            want = {c.id for c in chunks}
            writer.add([c for c in chunks if c.id not in have], known=bool(have))
            stale |= have - want
            report.unchanged += len(want & have)
        writer.flush()
    for origin, ids in existing.items():
        in_scope = any(origin == s or (s.endswith(os.sep) and origin.startswith(s)) for s in scopes)
        if in_scope and origin not in seen:
            stale |= ids
    report.added, report.updated = writer.added, writer.updated
    if stale:
        store.delete(sorted(stale))
    report.removed = len(stale)

    ids = {i for group in existing.values() for i in group} - stale | writer.written
    _commit(store, settings, ids, state, interrupted)
    report.chunks_total = len(ids)
    report.seconds = time.perf_counter() - t0
    log.info("ingest: %s", report.summary())
    return report


class _Writer:
    """Embeds and stores chunks a batch at a time, as they are planned. A worker thread
    writes one batch while the caller reads the next files (the encoder releases the
    GIL). One batch in flight keeps memory bounded; a second writer thread for the
    store was tried and is slower on two cores: it competes with the encoder."""

    def __init__(self, store: VectorStore, settings: Settings, embedder, progress) -> None:
        self.store, self.settings, self.embedder = store, settings, embedder
        self.progress = progress
        self.pending: list[Chunk] = []
        self.written: set[str] = set()
        self.added = self.updated = 0
        self._checked = False
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="ingest-write")
        self._in_flight: Future[set[str]] | None = None

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info) -> None:
        self._worker.shutdown(wait=True)  # a batch being written finishes, even on error

    def add(self, chunks: list[Chunk], *, known: bool) -> None:
        """Chunks to embed; `known`: their file was in the index (an update)."""
        self.pending += chunks
        if known:
            self.updated += len(chunks)
        else:
            self.added += len(chunks)
        while len(self.pending) >= BATCH_CHUNKS:
            self._submit(self.pending[:BATCH_CHUNKS])
            del self.pending[:BATCH_CHUNKS]

    def flush(self) -> None:
        if self.pending:
            self._submit(self.pending)
            self.pending = []
        self._wait()

    def _submit(self, batch: list[Chunk]) -> None:
        self._wait()
        self._in_flight = self._worker.submit(self._write, batch)

    def _wait(self) -> None:
        """The batch in flight stored (its error raised here); progress is reported on
        the caller's thread."""
        if self._in_flight is None:
            return
        done, self._in_flight = self._in_flight, None
        self.written |= done.result()
        if self.progress:
            # The plan grows as files are read.
            self.progress(len(self.written), self.added + self.updated)

    def _write(self, batch: list[Chunk]) -> set[str]:
        if not self._checked:
            self.embedder = self.embedder or _embedder(self.settings)
            _check_model(self.store, self.settings, self.embedder.dimension)
            self._checked = True
        records, vectors = _embed(batch, self.embedder)
        self.store.upsert(records, vectors)
        return {c.id for c in batch}


def _commit(
    store: VectorStore, settings: Settings, ids: set[str], state: dict, interrupted: bool
) -> None:
    """Bring BM25 and the generation marker in line with the chunks now stored, then mark
    the index clean. Readers reload when the generation changes."""
    generation = generation_of(ids)
    if (
        interrupted
        or generation != state.get("generation")
        or LexicalIndex.current_generation(settings.lexical_dir) != generation
        or not LexicalIndex.is_complete(settings.lexical_dir)  # written by an older version
    ):
        store.prune_units(ids)  # units an interrupted run wrote for chunks it never stored
        # A small index is also kept whole beside its BM25, for readers to answer from
        # without opening the store (`ServedIndex`); the records are read once for both.
        served = ServedIndex.capture(
            store, settings.exact_search_max_vectors, format=INDEX_FORMAT, generation=generation
        )
        lexical = LexicalIndex.build(served.iter_records() if served else store.iter_records())
        lexical.save(settings.lexical_dir, generation, also=served.save if served else None)
        store.set_state(generation=generation)
    store.set_state(clean="1")


def remove_documents(
    origins: Iterable[str], settings: Settings, *, store: VectorStore | None = None
) -> int:
    """Delete every chunk of the documents known by `origins`; returns how many."""
    store = store or open_store(settings)
    existing = store.ids_by("origin")
    state = store.state()
    interrupted = state.get("clean") == "0"
    store.set_state(clean="0")
    gone = {i for o in origins for i in existing.get(o, set())}
    if gone:
        store.delete(sorted(gone))
    ids = {i for group in existing.values() for i in group} - gone
    _commit(store, settings, ids, state, interrupted)
    return len(gone)


class _Works:
    """The title of each file's work, from its folder's index page (read once)."""

    def __init__(self, files: list[tuple[Path, str]]) -> None:
        self.index = index_pages(files)
        self.titles: dict[str, str] = {}
        self.series = series_sizes(path for path, _ in files)

    def title(self, doc: SourceDocument) -> str:
        key = work_key(doc.source, doc.meta)
        if key.startswith("series:"):  # one article alone is not a series
            series = str(doc.meta["series"])
            return series if self.series.get(series, 0) > 1 else ""
        if not key:
            return ""  # a work of its own
        if key not in self.titles:
            page = self.index.get(key)
            title = ""
            if page is not None:
                try:
                    title = doc.title if doc.origin == str(page.absolute()) else load(
                        page, key).title  # fmt: skip
                except IngestError:
                    title = ""
            self.titles[key] = title or folder_title(key)
        return self.titles[key]


def _embedder(settings: Settings):
    from assistant.embeddings import get_embedder

    return get_embedder(settings)


def _check_model(store: VectorStore, settings: Settings, dimension: int) -> None:
    identity = model_identity(settings, dimension)
    held = store.state().get("model")
    if held and held != identity and store.count():
        raise ConfigError(
            f"the index was built with embedding model {held}, not {identity}: "
            "run `stackguide ingest --rebuild`"
        )
    if held != identity:
        store.set_state(model=identity)


def _embed(chunks: list[Chunk], embedder) -> tuple[list[ChunkRecord], np.ndarray]:
    vectors, unit_vecs = embedder.embed_passages([c.passage for c in chunks])
    records = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for c, units in zip(chunks, unit_vecs, strict=True):
        records.append(
            ChunkRecord(
                id=c.id,
                text=c.text,
                source=c.source,
                title=c.title,
                section=c.section,
                order=c.order,
                units=c.units,
                unit_vecs=units,
                preview=c.preview,
                digest=c.digest,
                origin=c.origin,
                work=c.work,
                ingested_at=now,
            )
        )
    return records, vectors


def reset_index(settings: Settings, store: VectorStore | None = None) -> None:
    """Drop the collection and the BM25 index (for --rebuild or a model change)."""
    import shutil

    (store or open_store(settings)).drop()
    shutil.rmtree(settings.lexical_dir, ignore_errors=True)
