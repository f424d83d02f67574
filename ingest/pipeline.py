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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import ConfigError, IngestError
from assistant.lexical import LexicalIndex, generation_of
from assistant.models import ChunkRecord
from assistant.settings import Settings
from assistant.store import VectorStore, open_store
from ingest.chunking import Chunk, chunk_document
from ingest.loaders import SUPPORTED, load

log = logging.getLogger(__name__)
BATCH_CHUNKS = 64
# Bump when what is stored per chunk changes: an index of another format is re-embedded.
INDEX_FORMAT = "3"


@dataclass
class IngestReport:
    files: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    chunks_total: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"{self.files} files, {self.added} chunks added, {self.updated} updated, "
            f"{self.removed} removed, {len(self.skipped)} skipped, {len(self.failed)} failed, "
            f"{self.chunks_total} in index, {self.seconds:.1f}s"
        )


def discover(paths: Iterable[Path]) -> tuple[list[tuple[Path, str]], list[str], list[str]]:
    """Files to ingest with their source names, unsupported files, and the scopes.

    A source is named relative to its root's parent ('corpus/x.md'), whatever the working
    directory. Files are known by absolute path, and a scope is an absolute root under
    which a file that vanished counts as deleted (two roots both named `html/` can't mix).
    """
    files: list[tuple[Path, str]] = []
    skipped: list[str] = []
    scopes: list[str] = []
    for root in paths:
        root = Path(root).absolute()
        if not root.exists():
            raise IngestError(str(root), "no such file or directory")
        base = root.parent
        if root.is_file():
            candidates = [root]
            scopes.append(str(root))
        else:
            candidates = sorted(
                p
                for p in root.rglob("*")
                if p.is_file() and not any(s.startswith(".") for s in p.relative_to(base).parts)
            )
            scopes.append(str(root) + os.sep)
        for p in candidates:
            source = p.relative_to(base).as_posix()
            (files.append((p, source)) if p.suffix.lower() in SUPPORTED else skipped.append(source))
    return files, skipped, scopes


def model_identity(settings: Settings, dimension: int) -> str:
    """Vectors from different models must never share a collection."""
    if settings.embedder == "fake":
        return f"fake:{dimension}"
    return f"{Path(settings.embedding_model).name}:{dimension}"


def run_ingest(
    paths: Iterable[Path],
    settings: Settings,
    *,
    store: VectorStore | None = None,
    embedder=None,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    t0 = time.perf_counter()
    report = IngestReport()
    files, report.skipped, scopes = discover(paths)
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

    plan: list[tuple[Chunk, bool]] = []  # chunk to embed, and whether its file is known
    stale: set[str] = set()
    seen: set[str] = set()
    for path, source in files:
        seen.add(str(path))
        try:
            doc = load(path, source)
            chunks = chunk_document(doc, settings.chunk_max_chars, settings.prompts_dir)
        except IngestError as exc:
            report.failed.append((exc.path, exc.reason))
            continue  # keep whatever the store had for it: a bad edit loses nothing
        except Exception as exc:  # a loader bug must not cost the other files
            log.exception("unexpected error reading %s", source)
            report.failed.append((source, f"unexpected error: {type(exc).__name__}: {exc}"))
            continue
        have = existing.get(doc.origin, set())
        want = {c.id for c in chunks}
        plan += [(c, bool(have)) for c in chunks if c.id not in have]
        stale |= have - want
        report.unchanged += len(want & have)
    for origin, ids in existing.items():
        in_scope = any(origin == s or (s.endswith(os.sep) and origin.startswith(s)) for s in scopes)
        if in_scope and origin not in seen:
            stale |= ids

    if plan:
        embedder = embedder or _embedder(settings)
        _check_model(store, settings, embedder.dimension)
        done = 0
        for start in range(0, len(plan), BATCH_CHUNKS):
            batch = plan[start : start + BATCH_CHUNKS]
            records, vectors = _embed(batch, embedder)
            store.upsert(records, vectors)
            done += len(batch)
            if progress:
                progress(done, len(plan))
    report.added = sum(1 for _, known in plan if not known)
    report.updated = len(plan) - report.added
    if stale:
        store.delete(sorted(stale))
    report.removed = len(stale)

    ids = {i for group in existing.values() for i in group} - stale | {c.id for c, _ in plan}
    generation = generation_of(ids)
    if (
        interrupted
        or generation != state.get("generation")
        or LexicalIndex.current_generation(settings.lexical_dir) != generation
        or not LexicalIndex.is_complete(settings.lexical_dir)  # written by an older version
    ):
        store.prune_units(ids)  # units an interrupted run wrote for chunks it never stored
        LexicalIndex.build(store.iter_records()).save(settings.lexical_dir, generation)
        store.set_state(generation=generation)
    store.set_state(clean="1")
    report.chunks_total = len(ids)
    report.seconds = time.perf_counter() - t0
    log.info("ingest: %s", report.summary())
    return report


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


def _embed(batch: list[tuple[Chunk, bool]], embedder) -> tuple[list[ChunkRecord], np.ndarray]:
    chunks = [c for c, _ in batch]
    vectors = embedder.embed([c.embed_text for c in chunks])
    unit_texts = [u["text"] for c in chunks for u in c.units]
    unit_vecs = embedder.embed(unit_texts)
    records, offset = [], 0
    for c in chunks:
        n = len(c.units)
        records.append(
            ChunkRecord(
                id=c.id,
                text=c.text,
                source=c.source,
                title=c.title,
                section=c.section,
                order=c.order,
                units=c.units,
                unit_vecs=unit_vecs[offset : offset + n],
                preview=c.preview,
                digest=c.digest,
                origin=c.origin,
            )
        )
        offset += n
    return records, vectors


def reset_index(settings: Settings) -> None:
    """Drop the collection and the BM25 index (for --rebuild or a model change)."""
    import contextlib
    import shutil

    store = open_store(settings)
    with contextlib.suppress(Exception):  # absent already is fine
        store.client.delete_collection(settings.collection)  # type: ignore[attr-defined]
    shutil.rmtree(settings.lexical_dir, ignore_errors=True)
