"""Shared fixtures: real model, real Chroma, every data directory under tmp_path.

Nothing here can reach the internet: an autouse guard refuses any socket connection
that is not to the loopback interface, so no test can call a paid API or a model hub.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.settings import REPO_ROOT, Settings

CORPUS = REPO_ROOT / "corpus"

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

_real_connect = socket.socket.connect
OTHER_SETTINGS = ("OPENAI_API_KEY", "OPENAI_BASE_URL")  # read besides STACKGUIDE_*/SLACK_*


def _loopback_only(self: socket.socket, address) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("STACKGUIDE_", "SLACK_")) or key in OTHER_SETTINGS:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _chroma_released(request: pytest.FixtureRequest) -> Iterator[None]:
    """Embedded Chroma clients a test opened on its own tmp_path are stopped after it: each
    holds threads and memory that would otherwise add up over the run."""
    from chromadb.api.shared_system_client import SharedSystemClient

    systems = SharedSystemClient._identifier_to_system
    before = set(systems)
    yield
    own = request.node.funcargs.get("tmp_path")
    if own is None:
        return
    for identifier in set(systems) - before:
        if Path(identifier).is_relative_to(own):
            systems.pop(identifier).stop()


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export for the whole run (exporting takes ~10 s)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache: Path):
    from assistant.embeddings import get_embedder

    return get_embedder(Settings(model_cache_dir=model_cache))


def make_settings(data_dir: Path, model_cache: Path, **extra: object) -> Settings:
    return Settings(data_dir=data_dir, model_cache_dir=model_cache, **extra)


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path) -> Settings:
    return make_settings(tmp_path / "data", model_cache)


@pytest.fixture(scope="session")
def corpus_assistant(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder):
    """The bundled corpus ingested once, for the many tests that only ask."""
    from assistant.service import Assistant

    data = tmp_path_factory.mktemp("corpus-index")
    assistant = Assistant(make_settings(data, model_cache), embedder=embedder)
    report = assistant.ingest()
    assert report.ok and report.chunks_total > 20
    return assistant


# -- the documents API over real HTTP, and a web site to fetch articles from -----------------------


@pytest.fixture
def api(corpus_assistant, model_cache, tmp_path):
    """The app on 127.0.0.1 over a copy of the corpus index (tests/helpers/documents.py)."""
    from tests.helpers.documents import serving

    with serving(corpus_assistant, model_cache, tmp_path) as served:
        yield served


@pytest.fixture
def site():
    """Pages served from 127.0.0.1 that a test sets and changes (tests/helpers/pages.py)."""
    from tests.helpers.pages import serve_site

    with serve_site() as s:
        yield s
