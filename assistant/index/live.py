"""The index as serving code reads it, kept live: an ingest that commits anywhere (this
process, another worker, the CLI, another host through a Chroma server) is picked up
without a restart.

A reader checks the store's generation marker at most every `index_check_s` (one small
read). When it changed, the BM25 index and the exact-search snapshot are loaded again and
swapped in whole; a request holds the `IndexView` it started with, so it finishes on the
generation it began on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.index.lexical import LexicalIndex
from assistant.index.vectors.base import VectorStore
from assistant.index.vectors.exact import ExactSearch
from assistant.retrieval.hybrid import RecordCache
from assistant.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class IndexView:
    """One generation of the index: what a request reads from start to end."""

    store: VectorStore
    lexical: LexicalIndex
    exact: ExactSearch | None
    generation: str | None
    records: RecordCache = field(default_factory=RecordCache)
    corpus: Any = None  # what the agent's tools read, made on first use (service)
    catalog: Any = None  # the documents it holds, made on first use (documents API)


class LiveIndex:
    def __init__(
        self,
        settings: Settings,
        store: Callable[[], VectorStore],
        load: Callable[[Callable[[], VectorStore]], IndexView],
        *,
        reopen: Callable[[dict], bool] = lambda state: True,
    ) -> None:
        """`store` gives the current store handle, `load` reads a view given a way to
        open one (it may not need to);
        `reopen(state)`: whether a changed store must be reopened first (another process
        wrote it)."""
        self.settings = settings
        self._store = store
        self._load = load
        self._reopen = reopen
        self._view: IndexView | None = None
        self._checked = 0.0
        self._loading = threading.Lock()
        self.reloads = 0

    def view(self) -> IndexView:
        view = self._view
        if view is None:
            with self._loading:
                if self._view is None:
                    self._view = self._load(self._store)
                    self._checked = time.monotonic()
                return self._view
        if time.monotonic() - self._checked >= self.settings.index_check_s:
            self._maybe_reload(view)
        return self._view or view

    def invalidate(self) -> None:
        """Check the generation on the next read (after this process wrote)."""
        self._checked = 0.0

    def drop(self) -> None:
        """Forget the loaded view (the index was deleted)."""
        with self._loading:
            self._view = None

    def _maybe_reload(self, view: IndexView) -> None:
        # One reader checks; the others go on with the view they have rather than wait.
        if not self._loading.acquire(blocking=False):
            return
        try:
            self._checked = time.monotonic()
            store = self._store()  # the newest handle: a write here may have reopened it
            state = store.state()
            generation = state.get("generation")
            if generation == view.generation:
                return
            if self._reopen(state):
                store = store.reopened()
            t = time.perf_counter()
            self._view = self._load(lambda: store)
            self.reloads += 1
            log.info("index generation %s loaded in %.0f ms", generation,
                     (time.perf_counter() - t) * 1000)  # fmt: skip
        except Exception:  # a reload that fails keeps serving the last good view
            log.exception("reloading the index failed; still serving generation %s",
                          view.generation)  # fmt: skip
        finally:
            self._loading.release()
