"""Server processes the tests start: their own process group, output to a log file."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path


def spawn_logged(
    cmd: list[str], log: Path, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen:
    """Start `cmd` in a process group of its own (to stop all of it, and only it)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, cwd=cwd, start_new_session=True,
        )  # fmt: skip


def terminate_group(proc: subprocess.Popen, timeout: float) -> int | None:
    """SIGTERM to the group; SIGKILL if it lingers. The exit code, or None when killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        return None
