"""What the machine a benchmark ran on can do, printed and saved beside its figures.

The same code measured 0.63x and 0.93x of the quickstart's ingest time, and a cold answer
of 0.50 s and 1.53 s, on hosts that each report "2 cores with AVX512-BF16": figures from
different sessions compare only with the host's own speed beside them. Two readings:

- `python_loop_mops`: millions of iterations of a bare Python loop per second, one core
  (what a cold answer's imports and set-up are bound by);
- `matmul_gflops_fp32` / `_bf16`: a BERT-sized product (2048 x 384 by 384 x 1536) in
  PyTorch on all cores; their ratio is what bf16 bulk encoding gains over the fp32 peer.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

from assistant.embeddings.bf16 import cpu_flags

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8")


def _cpu(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """The CPU's model name and which of FLAGS it has (read as the bf16 switch reads them)."""
    try:
        lines = cpuinfo.read_text().splitlines()
    except OSError:
        lines = []
    names = [
        v.strip() for k, _, v in (ln.partition(":") for ln in lines) if k.strip() == "model name"
    ]
    model = names[0] if names else platform.processor() or platform.machine()
    return model, [f for f in FLAGS if f in cpu_flags(cpuinfo)]


def _python_loop_mops(n: int = 3_000_000) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return round(n / (time.perf_counter() - start) / 1e6, 1)


def _matmul_gflops() -> dict[str, float]:
    try:
        import torch
    except ImportError:
        return {}
    rows, inner, out = 2048, 384, 1536
    figures = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, w = torch.randn(rows, inner, dtype=dtype), torch.randn(out, inner, dtype=dtype)
        with torch.inference_mode():
            for _ in range(3):  # kernels built, caches warm
                torch.nn.functional.linear(a, w)
            runs, start = 30, time.perf_counter()
            for _ in range(runs):
                torch.nn.functional.linear(a, w)
            seconds = (time.perf_counter() - start) / runs
        figures[f"matmul_gflops_{name}"] = round(2 * rows * inner * out / seconds / 1e9, 1)
    return figures


def describe_host(matmul: bool = True) -> dict:
    model, flags = _cpu()
    host = {"cpu": model, "flags": flags, "python_loop_mops": _python_loop_mops()}
    return host | (_matmul_gflops() if matmul else {})


def host_line(host: dict) -> str:
    parts = [host["cpu"], "flags " + (",".join(host["flags"]) or "none"),
             f"python loop {host['python_loop_mops']} M/s"]  # fmt: skip
    if "matmul_gflops_bf16" in host:
        parts.append(f"matmul fp32 {host['matmul_gflops_fp32']} / bf16 "
                     f"{host['matmul_gflops_bf16']} GFLOP/s")  # fmt: skip
    return "host: " + "; ".join(parts)
