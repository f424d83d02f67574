"""Run ingests in a child process (to kill them) and compare what an index holds."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from assistant.index.lexical import LexicalIndex
from assistant.index.vectors.chroma import ChromaStore
from assistant.settings import Settings

# Code run before `run_ingest` in the child: each makes the child die with code 9 at
# one point of the ingest, the way a kill -9 or a power cut would.
CRASHES = {
    # the third ChromaStore.upsert call dies before writing anything
    "third-upsert": """
        from assistant.index.vectors.chroma import ChromaStore
        _real = ChromaStore.upsert
        _calls = [0]
        def _upsert(self, records, vectors):
            _calls[0] += 1
            if _calls[0] == 3:
                os._exit(9)
            return _real(self, records, vectors)
        ChromaStore.upsert = _upsert
    """,
    # every chunk is stored, the BM25 index is not saved
    "bm25-save": """
        from assistant.index.lexical import LexicalIndex
        def _save(self, root, generation, also=None):
            os._exit(9)
        LexicalIndex.save = _save
    """,
    # the answer units of a batch are written, its chunks are not
    "between-units-and-chunks": """
        from chromadb.api.models.Collection import Collection
        _real = Collection.upsert
        def _upsert(self, *args, **kwargs):
            if not self.name.endswith("-units"):
                os._exit(9)
            return _real(self, *args, **kwargs)
        Collection.upsert = _upsert
    """,
}


def ingest_in_child(
    folder: Path,
    data_dir: Path,
    model_cache: Path,
    *,
    crash: str | None = None,
    batch_chunks: int | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """`run_ingest([folder])` in a fresh interpreter, optionally killed by `crash`."""
    setup = textwrap.dedent(CRASHES[crash]) if crash else ""
    batch = f"pipeline.BATCH_CHUNKS = {batch_chunks}\n" if batch_chunks else ""
    code = (
        "import os\n"
        "from pathlib import Path\n"
        "import ingest.pipeline as pipeline\n"
        "from assistant.settings import Settings\n"
        f"{batch}{setup}\n"
        f"report = pipeline.run_ingest([Path({str(folder)!r})], Settings())\n"
        "print(report.summary())\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STACKGUIDE_", "CHROMA_")) and k not in ("OPENAI_API_KEY",)
    }
    env.update(
        STACKGUIDE_DATA_DIR=str(data_dir),
        STACKGUIDE_MODEL_CACHE_DIR=str(model_cache),
        HF_HUB_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=data_dir.parent,  # no stray .env file is read
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def snapshot(settings: Settings) -> dict:
    """What must be identical between two indexes of the same files."""
    store = ChromaStore(settings, create=False)
    return {
        "chunk ids by source": {s: sorted(ids) for s, ids in store.ids_by_source().items()},
        "unit ids": sorted(store.units.get(include=[])["ids"]),
        "bm25/CURRENT": LexicalIndex.current_generation(settings.lexical_dir),
        "store generation": store.state().get("generation"),
    }
