"""The model's token states computed in bfloat16 by PyTorch, for bulk embedding on CPUs
with bfloat16 matrix units (Intel AMX, AVX512-BF16).

There it is ~3x the fp32 graph's speed, and the vectors stay within cosine 0.9999 of
fp32's (the weights and activations in bfloat16, products accumulated in fp32, pooled
and normalised in fp32), so an index built this way answers the graph's fp32 queries as
an fp32-built one does, to the noise of near-ties (docs/figures.md).
Queries never come here: importing torch would cost a cold process seconds.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from assistant.errors import ConfigError

# CPU flags (Linux /proc/cpuinfo) of native bfloat16 matrix arithmetic; without them
# torch emulates bfloat16, slower than fp32.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's feature flags; none where the file cannot be read (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[-1].split())
    return frozenset()


def cpu_has_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    return not cpu_flags(cpuinfo).isdisjoint(BF16_FLAGS)


@cache
def _libc():
    import ctypes  # here: the query path imports this module, never trims
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def trim_heap() -> None:
    """Give the heap's free pages back to the system. Batches of ever-changing shapes
    leave glibc's heap fragmented: over a 31k-chunk ingest it held ~0.5 GB more than
    its live data. A no-op where the C library has no `malloc_trim`."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def bulk_mode(requested: str, precision: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """ "bf16" or "onnx" for `requested` ("auto", "bf16", "onnx"): bf16 approximates the
    fp32 graph only, and is worth it only where the CPU computes it natively."""
    if requested == "bf16" and precision != "fp32":
        raise ConfigError(f"bf16 bulk embedding approximates the fp32 graph, not {precision}")
    if requested == "auto":
        return "bf16" if precision == "fp32" and cpu_has_bf16(cpuinfo) else "onnx"
    return requested


class Bf16Encoder:
    """Token states (batch × tokens × hidden, float32) of padded id batches."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - it comes with sentence-transformers
            raise ConfigError(f"bf16 bulk embedding needs torch: {exc}") from exc
        if not (torch.backends.mkldnn.is_available() and cpu_has_bf16()):
            raise ConfigError("bf16 bulk embedding needs a CPU with AMX or AVX512-BF16")
        from assistant.embeddings.bert_torch import BertForward

        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.model = BertForward(model_dir, torch, torch.bfloat16)

    def hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            states = self.model(torch.from_numpy(ids), torch.from_numpy(mask))
        return states.float().numpy()
