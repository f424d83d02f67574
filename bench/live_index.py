"""Live-index figures on this machine: `stackguide serve --workers 2` on 127.0.0.1.

- upload_to_answerable_s: from POST /v1/documents to an answer citing the upload on EVERY
  worker (the slower of the two; median of N uploads)
- answer latency (p50/p95 ms) with the index idle, and while a large upload is being
  ingested by one of the workers
Printed, and saved to bench/results/live_index.json.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
STACKGUIDE = str(Path(sys.executable).with_name("stackguide"))
ADMIN = "bench-admin-key-0123456789"
UPLOADS = int(os.environ.get("BENCH_UPLOADS", "5"))
QUESTIONS = [
    "Which ORM is the default for Python?",
    "What is Hono?",
    "When should I pick Go over Rust for a backend?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Pinned:
    """One keep-alive connection: one worker serves all of its requests."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"} if body else {}
        self.conn.request(method, path, json.dumps(body).encode() if body else None, headers)
        return json.loads(self.conn.getresponse().read() or b"{}")

    def pid(self) -> int:
        return self.get("GET", "/healthz")["pid"]


def two_workers(port: int) -> list[Pinned]:
    first = Pinned(port)
    while True:
        other = Pinned(port)
        if other.pid() != first.pid():
            return [first, other]


def doc(n: int, sections: int = 1) -> bytes:
    body = "".join(
        f"\n## Part {i}\n\nBenchtool{n} keeps {i} replicas and flushes every {i + 2} seconds.\n"
        for i in range(sections)
    )
    head = (f"# Benchtool{n}\n\n## About Benchtool{n}\n\nBenchtool{n} is the job runner "
            "for exactly-once webhook delivery.\n")  # fmt: skip
    return (head + body).encode()


def main() -> None:
    figures: dict[str, float | int] = {"cpus": os.cpu_count() or 0}
    with tempfile.TemporaryDirectory(prefix="stackguide-live-") as tmp:
        data = Path(tmp) / "data"
        env = {**os.environ, "STACKGUIDE_DATA_DIR": str(data), "STACKGUIDE_ADMIN_KEYS": ADMIN,
               "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}  # fmt: skip
        subprocess.run([STACKGUIDE, "ingest"], env=env, check=True, capture_output=True)
        port = free_port()
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 (closed below)
        server = subprocess.Popen(
            [STACKGUIDE, "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_up(port)
            _measure(port, figures)
        finally:
            server.terminate()
            server.wait(30)
            log.close()
    out = ROOT / "bench" / "results" / "live_index.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    for key, value in figures.items():
        print(f"{key:40} {value}")


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def _measure(port: int, figures: dict) -> None:
    workers = two_workers(port)
    admin = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                         headers={"Authorization": f"Bearer {ADMIN}"})  # fmt: skip
    for w in workers:  # each worker's first answers load the index and warm its caches
        for q in QUESTIONS:
            _timed_ask(w, q)
    idle = [_timed_ask(workers[i % 2], QUESTIONS[i % 3]) for i in range(30)]
    figures["answer_idle_p50_ms"] = round(pct(idle, 0.5), 1)
    figures["answer_idle_p95_ms"] = round(pct(idle, 0.95), 1)

    seen = []
    for n in range(UPLOADS):
        question = {"question": f"Which job runner is Benchtool{n}?"}
        t = time.perf_counter()
        admin.post("/v1/documents", files={"file": (f"bench{n}.md", doc(n))})
        for w in workers:
            while not any(
                c["source"] == f"uploads/bench{n}.md"
                for c in w.get("POST", "/v1/ask", question).get("citations", [])
            ):
                time.sleep(0.05)  # fmt: skip
        seen.append(time.perf_counter() - t)
    figures["upload_to_answerable_every_worker_median_s"] = round(statistics.median(seen), 2)
    figures["upload_to_answerable_every_worker_max_s"] = round(max(seen), 2)

    busy: list[float] = []
    big = doc(99, sections=400)
    t = time.perf_counter()
    job = admin.post("/v1/documents", files={"file": ("big.md", big)}).json()["job"]
    done = threading.Event()

    def poll() -> None:
        nonlocal job
        while job["status"] not in ("done", "failed"):
            time.sleep(0.2)
            job = admin.get(f"/v1/jobs/{job['id']}").json()["job"]
        done.set()

    threading.Thread(target=poll, daemon=True).start()
    i = 0
    while not done.is_set():
        busy.append(_timed_ask(workers[i % 2], QUESTIONS[i % 3]))
        i += 1
    figures["big_upload_chunks"] = job["progress"]["total"]
    figures["big_upload_ingest_s"] = round(time.perf_counter() - t, 1)
    figures["answers_during_ingest"] = len(busy)
    figures["answer_during_ingest_p50_ms"] = round(pct(busy, 0.5), 1)
    figures["answer_during_ingest_p95_ms"] = round(pct(busy, 0.95), 1)


def _timed_ask(worker: Pinned, question: str) -> float:
    t = time.perf_counter()
    answer = worker.get("POST", "/v1/ask", {"question": question})
    assert "answer" in answer, answer
    return (time.perf_counter() - t) * 1000


if __name__ == "__main__":
    main()
