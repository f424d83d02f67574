"""What the documents tests share: a copy of the ingested corpus index to change, and
waiting for a document job to end."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx

from assistant.conversations.store import ConversationStore


def copy_index(corpus_assistant, root: Path) -> Path:
    """The shared corpus index copied under `root` (without its database), with the
    database's tables made first: workers starting together would race to make them."""
    data = root / "data"
    shutil.copytree(corpus_assistant.settings.data_dir, data,
                    ignore=shutil.ignore_patterns("stackguide.db*"))  # fmt: skip
    ConversationStore(f"sqlite:///{data / 'stackguide.db'}").engine.dispose()
    return data


def wait_job(client: httpx.Client, job: dict | httpx.Response, timeout: float = 120) -> dict:
    """Poll a job (as returned by the 202, or the response itself) until done or failed."""
    if isinstance(job, httpx.Response):
        assert job.status_code == 202, job.text
        job = job.json()["job"]
    deadline = time.monotonic() + timeout
    while job["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/v1/jobs/{job['id']}").json()["job"]
    return job
