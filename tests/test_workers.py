"""`stackguide serve --workers 2`: several worker processes serve one read-only index.

The real CLI runs as a subprocess on 127.0.0.1 (tests/servers/stackguide.py) over a copy of
the ingested corpus index. Each client session keeps one keep-alive connection, so the
/healthz before and after its question tells which worker process answered the question.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.documents import copy_index
from tests.servers.stackguide import (
    ServeProcess,
    Session,
    alive,
    get_json,
    sessions_on_two_workers,
    stackguide_serve,
)

pytestmark = pytest.mark.server

QUESTIONS = [
    "What is Fastify's killer feature?",
    "Which framework should a Python ML team deploying to AWS Lambda pick?",
    "When should I pick Go over Rust for a backend?",
    "What is Hono?",
    "Which ORM is the default for Python?",
    "How does Django compare to FastAPI?",
    "What database should a small team start with?",
    "Is NestJS a good choice for a large TypeScript team?",
]
ASKS = 40
MORE_ROUNDS = 4  # if the kernel handed every connection of a round to the same worker


@contextlib.contextmanager
def two_workers(corpus_assistant, model_cache, root: Path) -> Iterator[ServeProcess]:
    """`stackguide serve --workers 2` on a copy of the corpus index."""
    # The conversation tables are made before the workers start: on a fresh data dir the
    # workers' first requests race to create them (a product bug, reproduced on its own by
    # test_fresh_database_opened_by_several_processes_at_once below).
    data = copy_index(corpus_assistant, root)
    with stackguide_serve(data, model_cache, workers=2, cwd=root) as server:
        yield server


@pytest.fixture(scope="module")
def served(corpus_assistant, model_cache, tmp_path_factory) -> Iterator[ServeProcess]:
    with two_workers(corpus_assistant, model_cache, tmp_path_factory.mktemp("workers")) as s:
        yield s


def ask_in_a_session(port: int, question: str) -> dict:
    session = Session(port)
    try:
        before = session.pid()
        status, answer = session.request("POST", "/v1/ask", {"question": question})
        after = session.pid()
    finally:
        session.close()
    return {"pid": before, "pid_after": after, "status": status, "answer": answer}


def test_two_workers_answer_from_one_index(served: ServeProcess) -> None:
    results: list[dict] = []
    with ThreadPoolExecutor(8) as pool:
        for round_ in range(1 + MORE_ROUNDS):
            n = ASKS if round_ == 0 else 10
            qs = [QUESTIONS[i % len(QUESTIONS)] for i in range(n)]
            results += pool.map(lambda q: ask_in_a_session(served.port, q), qs)
            if len({r["pid"] for r in results if r["status"] == 200}) >= 2:
                break

    bad = [(r["status"], r["answer"]) for r in results if r["status"] != 200]
    assert not bad, f"{len(bad)} of {len(results)} asks failed, e.g. {bad[:3]}\n{served.log_tail()}"
    for r in results:
        answer = r["answer"]
        assert r["pid"] == r["pid_after"], "a keep-alive connection changed worker"
        assert not answer["refused"], answer
        assert answer["citations"] and "[1]" in answer["answer"], answer
        assert all(c["source"].endswith(".md") for c in answer["citations"])
        assert answer["conversation_id"]

    workers = served.children()
    answered = {r["pid"] for r in results}
    assert served.proc.pid not in answered, "the main process must only supervise"
    assert answered <= workers, (answered, workers)
    assert len(answered) >= 2, f"only worker(s) {answered} answered {len(results)} sessions"
    # and plain /healthz requests, one fresh connection each, reach both workers too
    seen: set[int] = set()
    for _ in range(100):
        status, body = get_json(served.port, "/healthz")
        assert status == 200 and body["status"] == "ok"
        seen.add(body["pid"])
        if len(seen) >= 2:
            break
    assert len(seen) >= 2 and seen <= workers, (seen, workers)


def test_a_conversation_continues_on_the_other_worker(served: ServeProcess) -> None:
    """Conversations live in the data dir's database, not in a worker's memory."""
    a, b = sessions_on_two_workers(served.port)
    try:
        assert a.pid() != b.pid()
        status, first = a.request("POST", "/v1/ask", {"question": "Which ORM is the default for Python?"})  # fmt: skip
        assert status == 200 and "SQLAlchemy" in first["answer"]
        cid, token = first["conversation_id"], first["conversation_token"]
        status, follow = b.request("POST", "/v1/ask", {"question": "and for Rust?", "conversation_id": cid}, token)  # fmt: skip
        assert status == 200, follow
        assert follow["standalone_question"] == "Which ORM is the default for Rust?"
        status, conv = a.request("GET", f"/v1/conversations/{cid}", token=token)
        assert status == 200
        assert [t["role"] for t in conv["turns"]] == ["user", "assistant", "user", "assistant"]
        assert b.request("DELETE", f"/v1/conversations/{cid}", token=token)[0] == 204
        assert a.request("GET", f"/v1/conversations/{cid}", token=token)[0] == 404
    finally:
        a.close()
        b.close()


OPEN_STORE = """
import sys
from assistant.conversations.store import ConversationStore
from assistant.errors import BackendUnavailable
print("ready", flush=True)
sys.stdin.readline()
try:
    ConversationStore(sys.argv[1])
    print("ok")
except BackendUnavailable as exc:
    print("failed:", str(exc).splitlines()[0])
"""


def test_fresh_database_opened_by_several_processes_at_once(tmp_path) -> None:
    for trial in range(3):
        url = f"sqlite:///{tmp_path / f'fresh-{trial}.db'}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", OPEN_STORE, url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        for p in procs:  # all imported and waiting: then all at once
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outcomes = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert outcomes == ["ok"] * 4, outcomes


def test_sigterm_stops_the_main_process_and_every_worker(
    corpus_assistant, model_cache, tmp_path
) -> None:
    with two_workers(corpus_assistant, model_cache, tmp_path) as served:
        _stops_on_sigterm(served)


def _stops_on_sigterm(served: ServeProcess) -> None:
    workers = served.children()
    assert workers
    code = served.stop()
    assert code == 0, served.log_tail()
    assert not alive([served.proc.pid, *workers])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            get_json(served.port, "/healthz", timeout=1)
        except OSError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the port still answers after the server stopped")
    assert "Traceback" not in served.log_tail(200_000), served.log_tail()
