"""What the documents tests share: a copy of the ingested corpus index to change, and
waiting for a document job to end."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from assistant.conversations.store import ConversationStore
from assistant.server.app import create_app
from assistant.service import Assistant
from tests.conftest import make_settings
from tests.live_server import live_server

ADMIN = "admin-key-0123456789abcdef"
READER = "read-key-0123456789abcdef"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
AS_READER = {"Authorization": f"Bearer {READER}"}


@dataclass
class Api:
    """The app served on 127.0.0.1 over a data dir of its own."""

    url: str
    data: Path
    assistant: Assistant

    def client(self, headers: dict | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=headers or {}, timeout=60)


@contextmanager
def serving(corpus_assistant, model_cache, root: Path, **extra) -> Iterator[Api]:
    """The app on a copy of the corpus index, with a read key and an admin key, private
    fetches allowed (the test sites are on 127.0.0.1) and the index checked on every read."""
    data = copy_index(corpus_assistant, root)
    options = {"api_keys": [READER], "admin_keys": [ADMIN], "index_check_s": 0,
               "fetch_allow_private": True, **extra}  # fmt: skip
    assistant = Assistant(make_settings(data, model_cache, **options),
                          embedder=corpus_assistant.embedder)  # fmt: skip
    try:
        with live_server(create_app(assistant=assistant)) as url:
            yield Api(url, data, assistant)
    finally:
        assistant.close()


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


def upload(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/v1/documents", files={"file": (name, data)})
