"""`stackguide serve` as a real subprocess on 127.0.0.1, in its own process group.

`stackguide_serve()` starts the CLI (the installed `stackguide` script of this virtualenv)
with a clean environment (no STACKGUIDE_* of the caller; the model cache and the data dir
given explicitly; Hugging Face offline), waits until /healthz answers, and on the way out
sends SIGTERM to the process group it created, waits for every process of it to exit, and
raises if the server did not stop cleanly (the group is then killed, never left behind).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers.postgres import free_port
from tests.servers.process import spawn_logged, terminate_group

START_TIMEOUT = 180.0  # the main process loads the model, then spawns and imports the workers
STOP_TIMEOUT = 30.0


def stackguide_script() -> Path:
    script = Path(sys.executable).parent / "stackguide"
    if not script.exists():
        raise RuntimeError(f"no `stackguide` script next to {sys.executable}: pip install -e .")
    return script


def clean_env(model_cache: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STACKGUIDE_", "OPENAI_", "OTEL_", "CHROMA_"))
    }
    env.update(
        STACKGUIDE_MODEL_CACHE_DIR=str(model_cache),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        ANONYMIZED_TELEMETRY="False",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def get_json(port: int, path: str, timeout: float = 10) -> tuple[int, dict]:
    """One request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


@dataclass
class ServeProcess:
    proc: subprocess.Popen
    port: int
    log: Path
    returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def children(self) -> set[int]:
        """Pids whose parent is the server's main process (the uvicorn workers)."""
        kids = set()
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                fields = dict(
                    line.split(":\t", 1)
                    for line in status.read_text().splitlines()
                    if ":\t" in line
                )
                if int(fields.get("PPid", "0").strip()) == self.proc.pid:
                    kids.add(int(status.parent.name))
        return kids

    def stop(self) -> int:
        """SIGTERM to the process group we created; SIGKILL (and an error) if it lingers."""
        if self.returncode is not None:
            return self.returncode
        group = [self.proc.pid, *self.children()]
        self.returncode = terminate_group(self.proc, STOP_TIMEOUT)
        if self.returncode is None:
            raise RuntimeError(
                f"stackguide serve ignored SIGTERM for {STOP_TIMEOUT:.0f} s; killed. "
                f"Log:\n{self.log_tail()}"
            ) from None
        deadline = time.monotonic() + STOP_TIMEOUT
        while alive(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            raise RuntimeError(f"workers {alive(group)} outlived the server; killed")
        return self.returncode


class Session:
    """One keep-alive connection: every request on it is served by the same worker."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers or {}

    def request(
        self, method: str, path: str, body: dict | None = None, token: str | None = None
    ) -> tuple[int, dict]:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["X-Conversation-Token"] = token
        payload = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=payload, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else {}

    def pid(self) -> int:
        status, body = self.request("GET", "/healthz")
        assert status == 200 and body["status"] == "ok"
        return body["pid"]

    def close(self) -> None:
        self.conn.close()


def sessions_on_two_workers(
    port: int, timeout: float = 60.0, headers: dict[str, str] | None = None
) -> tuple[Session, Session]:
    """Two keep-alive connections that two different workers serve (waiting, while the
    second worker is still starting, for the kernel to hand it a connection)."""
    first = Session(port, headers)
    pid = first.pid()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        other = Session(port, headers)
        if other.pid() != pid:
            return first, other
        other.close()
        time.sleep(0.05)
    first.close()
    raise AssertionError(f"for {timeout:.0f} s every connection went to worker {pid}")


def alive(pids: list[int]) -> list[int]:
    """The pids still running (a zombie waiting for its reaper counts as gone)."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            running.append(pid)
    return running


@contextlib.contextmanager
def stackguide_serve(
    data_dir: Path, model_cache: Path, *, workers: int, cwd: Path, **env: str
) -> Iterator[ServeProcess]:
    port = free_port()
    log = cwd / f"serve-{port}.log"
    cmd = [
        str(stackguide_script()), "--data-dir", str(data_dir), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    proc = spawn_logged(cmd, log, env=clean_env(model_cache, **env), cwd=cwd)
    server = ServeProcess(proc, port, log)
    try:
        _wait_healthy(server)
        yield server
    finally:
        server.stop()


def _wait_healthy(server: ServeProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"stackguide serve exited with {server.proc.returncode} before answering:\n"
                f"{server.log_tail()}"
            )
        try:
            status, body = get_json(server.port, "/healthz", timeout=2)
            if status == 200 and body.get("status") == "ok":
                return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"stackguide serve did not answer /healthz in {START_TIMEOUT:.0f} s:\n"
                f"{server.log_tail()}"
            )
        time.sleep(0.25)
