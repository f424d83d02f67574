"""A live index: `stackguide serve --workers 2` (real subprocesses, embedded Chroma) sees an
ingest that commits within seconds on every worker, without a restart; a CLI write while
it serves is refused; a server killed with -9 in the middle of an ingest converges when
it starts again."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from assistant.index.lexical import LexicalIndex
from assistant.index.vectors import open_store
from tests.conftest import make_settings
from tests.helpers.documents import copy_index, wait_job
from tests.servers.stackguide import (
    ServeProcess,
    alive,
    clean_env,
    sessions_on_two_workers,
    stackguide_script,
    stackguide_serve,
)

pytestmark = pytest.mark.server

ADMIN = "admin-key-0123456789abcdef"
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
SEEN_WITHIN_S = 10.0
DOC = b"""# Zorblax queues

## Choosing Zorblax

Zorblax is the job runner to pick when you need exactly-once delivery of webhooks on SQLite.
"""
QUESTION = {"question": "Which job runner gives exactly-once delivery of webhooks on SQLite?"}


@pytest.fixture(scope="module")
def served(corpus_assistant, model_cache, tmp_path_factory) -> Iterator[ServeProcess]:
    root = tmp_path_factory.mktemp("live")
    data = copy_index(corpus_assistant, root)
    with stackguide_serve(data, model_cache, workers=2, cwd=root,
                          STACKGUIDE_ADMIN_KEYS=ADMIN) as server:  # fmt: skip
        server.data = data  # type: ignore[attr-defined]
        yield server


def cites(answer: dict, source: str) -> bool:
    return any(c["source"] == source for c in answer.get("citations", []))


def until(condition, timeout: float, what: str) -> float:
    """Seconds until `condition()` held (polled), or fail saying `what`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - start


def test_an_upload_is_answerable_on_every_worker_and_a_delete_cited_nowhere(served) -> None:
    a, b = sessions_on_two_workers(served.port)
    try:
        for session in (a, b):  # each worker has loaded the index before the upload
            status, answer = session.request("POST", "/v1/ask", QUESTION)
            assert status == 200 and not cites(answer, "uploads/zorblax.md")
        with httpx.Client(base_url=served.url, headers=AS_ADMIN, timeout=60) as c:
            r = c.post("/v1/documents", files={"file": ("zorblax.md", DOC)})
            assert r.status_code == 202, r.text
            job = wait_job(c, r.json()["job"])
            assert job["status"] == "done", job
            for session in (a, b):
                took = until(lambda s=session: cites(s.request("POST", "/v1/ask", QUESTION)[1],
                                                     "uploads/zorblax.md"),
                             SEEN_WITHIN_S, f"worker {session.pid()} citing the upload")  # fmt: skip
                assert took < SEEN_WITHIN_S
            r = c.delete(f"/v1/documents/{job['documents'][0]}")
            assert wait_job(c, r.json()["job"])["status"] == "done"
            for session in (a, b):
                until(lambda s=session: not cites(s.request("POST", "/v1/ask", QUESTION)[1],
                                                  "uploads/zorblax.md"),
                      SEEN_WITHIN_S, f"worker {session.pid()} forgetting the upload")  # fmt: skip
                status, listed = session.request("GET", "/v1/documents")
                assert all(d["source"] != "uploads/zorblax.md" for d in listed["documents"])
    finally:
        a.close()
        b.close()


def test_a_cli_write_while_serving_is_refused_with_what_to_do(served, model_cache, tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_bytes(DOC)
    for argv in (["ingest", str(doc)], ["remove", "corpus/modern-backend-frameworks-2025.md"]):
        done = subprocess.run(
            [str(stackguide_script()), "--data-dir", str(served.data), *argv],
            capture_output=True, text=True, timeout=120, env=clean_env(model_cache),
        )  # fmt: skip
        assert done.returncode == 1, done
        assert "is serving the index" in done.stderr and "/v1/documents" in done.stderr
    with httpx.Client(base_url=served.url, timeout=60) as c:
        assert len(c.get("/v1/documents").json()["documents"]) >= 1  # still serving


BIG_SECTIONS = 160


def big_document() -> bytes:
    parts = ["# Field notes on queues\n"]
    for n in range(BIG_SECTIONS):
        parts.append(
            f"\n## Queue note {n}\n\nQueue note {n} says broker number {n} keeps "
            f"{n * 7} messages in flight and acknowledges them in batches of {n + 3}. "
            f"Operators of broker {n} rotate its log every {n + 1} hours.\n"
        )
    return "".join(parts).encode()


def test_kill_9_during_an_api_ingest_converges_on_restart(corpus_assistant, model_cache,
                                                          tmp_path) -> None:  # fmt: skip
    data = copy_index(corpus_assistant, tmp_path)
    env = {"STACKGUIDE_ADMIN_KEYS": ADMIN}
    with stackguide_serve(data, model_cache, workers=1, cwd=tmp_path, **env) as server:
        with httpx.Client(base_url=server.url, headers=AS_ADMIN, timeout=60) as c:
            r = c.post("/v1/documents", files={"file": ("big.md", big_document())})
            job = r.json()["job"]

            def midway() -> bool:
                got = c.get(f"/v1/jobs/{job['id']}").json()["job"]
                assert got["status"] != "done", "the ingest finished before it could be killed"
                return 0 < got["progress"]["done"] < got["progress"]["total"]

            until(midway, 120, "the ingest under way")
        group = [server.proc.pid, *server.children()]
        os.killpg(server.proc.pid, signal.SIGKILL)
        until(lambda: not alive(group), 30, "the killed server gone")
        server.returncode = -9
    settings = make_settings(data, model_cache)
    assert open_store(settings).state()["clean"] == "0"  # killed in the middle of a write

    with (
        stackguide_serve(data, model_cache, workers=1, cwd=tmp_path, **env) as server,
        httpx.Client(base_url=server.url, headers=AS_ADMIN, timeout=60) as c,
    ):

        def recovered() -> bool:
            docs = c.get("/v1/documents").json()["documents"]
            big = [d for d in docs if d["source"] == "uploads/big.md"]
            return bool(big) and big[0]["sections"] == BIG_SECTIONS

        until(recovered, 180, "the interrupted upload completed")
        old = c.get(f"/v1/jobs/{job['id']}").json()["job"]
        assert old["status"] == "failed" and "interrupted" in old["message"]
        r = c.post("/v1/ask", json={"question": "How often do operators rotate the log "
                                                    "of broker 42?"})  # fmt: skip
        assert cites(r.json(), "uploads/big.md"), r.json()
    store = open_store(settings)
    state = store.state()
    assert state["clean"] == "1"
    ids = {i for group in store.ids_by("origin").values() for i in group}
    assert store.prune_units(ids) == 0  # no unit left without its chunk
    assert LexicalIndex.current_generation(settings.lexical_dir) == state["generation"]
    assert set(LexicalIndex.load(settings.lexical_dir).ids) == ids
