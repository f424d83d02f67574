"""StackGuide against a real Chroma server (`chroma run`) on 127.0.0.1, and against
Chroma URLs where no server answers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.errors import BackendUnavailable
from assistant.index.vectors import open_store
from assistant.service import Assistant
from assistant.settings import REPO_ROOT
from ingest.pipeline import run_ingest
from tests.conftest import make_settings

pytestmark = pytest.mark.server

CHROMA = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "chroma"
CORPUS = REPO_ROOT / "corpus"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
            return resp.status == 200 and b"heartbeat" in resp.read()
    except (urllib.error.URLError, OSError):
        return False


def server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "OTEL_"))}
    env.update(ANONYMIZED_TELEMETRY="False", CHROMA_ANONYMIZED_TELEMETRY="False")
    return env


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMA.exists():
        pytest.skip(f"no chroma CLI at {CHROMA}")
    root = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--path",
            str(root / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=server_env(),
        cwd=root,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not heartbeat(url):
            if proc.poll() is not None:
                pytest.fail(
                    f"chroma run exited with {proc.returncode}:\n"
                    + (root / "server.log").read_text(errors="replace")[-2000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no heartbeat from {url} within {START_TIMEOUT:.0f}s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def server_settings(chroma_url, tmp_path_factory, model_cache):
    return make_settings(tmp_path_factory.mktemp("server-data"), model_cache, chroma_url=chroma_url)


@pytest.fixture(scope="module")
def first_report(server_settings, embedder):
    return run_ingest([CORPUS], server_settings, embedder=embedder)


class NoEmbedder:
    @property
    def dimension(self) -> int:
        raise AssertionError("re-ingest of unchanged files consulted the embedder")

    def embed(self, texts, progress=None):
        raise AssertionError(f"re-ingest of unchanged files embedded {len(texts)} texts")


def test_bundled_corpus_ingests_into_the_server(first_report, server_settings, chroma_url):
    assert first_report.ok, first_report.failed
    assert first_report.files == 1
    assert first_report.chunks_total > 20, first_report.summary()
    assert first_report.added == first_report.chunks_total

    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    names = {c.name for c in client.list_collections()}
    assert {"stackguide", "stackguide-units"} <= names, names
    assert client.get_collection("stackguide").count() == first_report.chunks_total
    assert client.get_collection("stackguide-units").count() > first_report.chunks_total
    assert not server_settings.chroma_dir.exists(), "no embedded store when a URL is set"
    assert (server_settings.lexical_dir / "CURRENT").exists(), "BM25 stays local"

    store = open_store(server_settings)
    assert set(store.ids_by_source()) == {"corpus/modern-backend-frameworks-2025.md"}
    assert store.state()["generation"] == (server_settings.lexical_dir / "CURRENT").read_text()


def test_reingest_through_the_server_is_a_no_op(first_report, server_settings):
    again = run_ingest([CORPUS], server_settings, embedder=NoEmbedder())

    assert (again.added, again.updated, again.removed) == (0, 0, 0), again.summary()
    assert again.unchanged == first_report.chunks_total
    assert again.chunks_total == first_report.chunks_total


def test_ask_answers_from_the_server(first_report, server_settings, embedder):
    answer = Assistant(server_settings, embedder=embedder).ask("What is Fastify's killer feature?")

    assert not answer.refused, answer.answer
    assert answer.citations, "a grounded answer cites its sources"
    fastify = [c for c in answer.citations if c.section.endswith("Fastify")]
    assert fastify, [c.section for c in answer.citations]
    assert fastify[0].source == "corpus/modern-backend-frameworks-2025.md"
    assert "Schema-first" in answer.answer or "schema" in answer.answer.lower(), answer.answer


def test_a_running_server_sees_what_another_host_ingests(first_report, chroma_url, model_cache,
                                                          tmp_path):  # fmt: skip
    """Two hosts, one Chroma server: `serve` on one data dir, the CLI on another (its own
    BM25 files). The server picks the new generation up without a restart, and a removal
    just the same; with a Chroma server the CLI may write while a server runs. The
    server's own documents API writes through the Chroma server too."""
    from tests.helpers.documents import wait_job
    from tests.servers.stackguide import clean_env, stackguide_script, stackguide_serve

    doc = tmp_path / "other-host" / "zorblax.md"
    doc.parent.mkdir()
    doc.write_text("# Zorblax queues\n\n## Choosing Zorblax\n\nZorblax is the job runner to "
                   "pick for exactly-once delivery of webhooks on SQLite.\n")  # fmt: skip
    question = {"question": "Which job runner gives exactly-once delivery of webhooks?"}
    admin = "admin-key-0123456789abcdef"
    env = {"STACKGUIDE_CHROMA_URL": chroma_url}

    def cli(*argv: str) -> None:
        done = subprocess.run(
            [str(stackguide_script()), "--data-dir", str(tmp_path / "host-b"), *argv],
            capture_output=True, text=True, timeout=300, env=clean_env(model_cache, **env),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def cited(source: str) -> bool:
        r = httpx.post(f"{server.url}/v1/ask", json=question, timeout=60)
        return any(c["source"] == source for c in r.json()["citations"])

    with stackguide_serve(tmp_path / "host-a", model_cache, workers=1, cwd=tmp_path,
                          STACKGUIDE_ADMIN_KEYS=admin, **env) as server:  # fmt: skip
        assert not cited("zorblax.md")
        cli("ingest", str(doc))
        wait_for(lambda: cited("zorblax.md"), 15, "the server citing the other host's file")
        cli("remove", "zorblax.md")
        wait_for(lambda: not cited("zorblax.md"), 15, "the server forgetting the removed file")

        with httpx.Client(base_url=server.url, timeout=60,
                          headers={"Authorization": f"Bearer {admin}"}) as c:  # fmt: skip
            r = c.post("/v1/documents", files={"file": ("zorblax.md", doc.read_bytes())})
            job = wait_job(c, r)
            assert job["status"] == "done", job
            assert cited("uploads/zorblax.md")
            assert wait_job(c, c.delete(f"/v1/documents/{job['documents'][0]}"))["status"] == "done"
            assert not cited("uploads/zorblax.md")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.2)


# -- no server ---------------------------------------------------------------------------


def within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run `call` in a thread; fail if it is still running after `seconds`."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting for the Chroma server after {seconds:.0f}s: it hangs")
    assert time.monotonic() - started < seconds
    return outcome[0]


def test_closed_port_raises_backend_unavailable(tmp_path, model_cache):
    url = f"http://127.0.0.1:{free_port()}"  # bound, then closed: nothing listens
    settings = make_settings(tmp_path / "data", model_cache, chroma_url=url)

    err = within(30, lambda: open_store(settings))

    assert isinstance(err, BackendUnavailable), f"expected BackendUnavailable, got {err!r}"
    assert url in str(err), f"the message names the URL: {err}"
    assert "cannot reach the Chroma server" in str(err)


def test_closed_port_is_a_clean_cli_failure(tmp_path, model_cache):
    url = f"http://127.0.0.1:{free_port()}"
    env = {"STACKGUIDE_CHROMA_URL": url, "STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}

    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "data"), "ask", "What is Fastify?"], env=env
    )

    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert "cannot reach the Chroma server" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_unresponsive_endpoint_raises_backend_unavailable_in_bounded_time(tmp_path, model_cache):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        settings = make_settings(tmp_path / "data", model_cache, chroma_url=url)
        try:
            err = within(10, lambda: open_store(settings))
        finally:
            with contextlib.suppress(OSError):
                silent.shutdown(socket.SHUT_RDWR)
    assert isinstance(err, BackendUnavailable), f"expected BackendUnavailable, got {err!r}"
