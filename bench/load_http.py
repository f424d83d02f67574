"""HTTP load: `stackguide serve` on 127.0.0.1 and wrk in a second process.

Phase 1: 32 connections for 30 s against POST /v1/ask, cycling through the eval
questions: requests/s, latency percentiles, errors. Phase 2: keeps going to 20,000
requests and reports the workers' resident memory before and after.

    .venv/bin/python bench/load_http.py [--workers 2] [--connections 32] [--duration 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation.cases import load_dataset  # noqa: E402

LUA = r"""
local bodies = {%(bodies)s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "/v1/ask", {["Content-Type"] = "application/json"},
                    bodies[(i %% #bodies) + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%%d errors=%%d non2xx=%%d "
    .. "p50=%%.2f p95=%%.2f p99=%%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit("the server did not become ready")


def workers_rss_mb(parent: int) -> float:
    """Resident memory of the serve process and all its children, in MiB."""
    pids = [parent]
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
    pids += [int(p) for p in out.split()]
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        m = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(m.group(1)) if m else 0
    return round(total / 1024, 1)


def run_wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
           "-s", str(script), url]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT requests=(\d+) errors=(\d+) non2xx=(\d+) p50=([\d.]+) "
                  r"p95=([\d.]+) p99=([\d.]+)", out)  # fmt: skip
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        sys.exit(f"could not read wrk's output:\n{out}")
    return {
        "requests": int(m.group(1)), "socket_errors": int(m.group(2)),
        "non_2xx": int(m.group(3)), "p50_ms": float(m.group(4)), "p95_ms": float(m.group(5)),
        "p99_ms": float(m.group(6)), "rps": float(rps.group(1)),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--total", type=int, default=20_000, help="requests for the memory check")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")

    questions = [c.question for c in load_dataset(ROOT / "evals" / "cases") if not c.history]
    bodies = ", ".join(json.dumps(json.dumps({"question": q})) for q in questions)
    with tempfile.TemporaryDirectory(prefix="stackguide-load-") as tmp:
        script = Path(tmp) / "ask.lua"
        script.write_text(LUA % {"bodies": bodies})
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "STACKGUIDE_DATA_DIR": str(Path(tmp) / "data"),
               "STACKGUIDE_ONNX_THREADS": "1"}  # fmt: skip
        stackguide = str(Path(sys.executable).with_name("stackguide"))
        server = subprocess.Popen(
            [stackguide, "serve", "--port", str(port), "--workers", str(args.workers)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_ready(url)
            run_wrk(url, script, args.connections, 5)  # warm-up
            rss_before = workers_rss_mb(server.pid)
            load = run_wrk(url, script, args.connections, args.duration)
            done = load["requests"]
            while done < args.total:
                seconds = max(5, int((args.total - done) / max(load["rps"], 1)) + 1)
                done += run_wrk(url, script, args.connections, seconds)["requests"]
            rss_after = workers_rss_mb(server.pid)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    figures = {
        "workers": args.workers, "connections": args.connections, "seconds": args.duration,
        **load, "memory_check_requests": done, "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
    }  # fmt: skip
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results" / "load_http.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
