"""Ingest-sized batches may be encoded in bfloat16 (PyTorch) where the CPU has bf16 matrix
units; queries always run on the ONNX graph, and the vectors agree with it."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embeddings.bf16 import bulk_mode, cpu_has_bf16
from assistant.embeddings.onnx import BULK_MIN_TOKENS, OnnxEmbedder
from assistant.errors import ConfigError
from assistant.settings import Settings

needs_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 matrix units")


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    return path


def test_bf16_is_native_only_with_amx_or_avx512_bf16_flags(tmp_path) -> None:
    assert cpu_has_bf16(_cpuinfo(tmp_path, "fpu sse2 avx512f amx_bf16 amx_tile"))
    assert cpu_has_bf16(_cpuinfo(tmp_path, "fpu avx512f avx512_bf16"))
    assert not cpu_has_bf16(_cpuinfo(tmp_path, "fpu sse2 avx2 avx512f amx_int8"))
    assert not cpu_has_bf16(tmp_path / "missing")


def test_bf16_bulk_refuses_a_graph_it_does_not_approximate(model_cache) -> None:
    with pytest.raises(ConfigError, match="fp32"):
        OnnxEmbedder(
            Settings().embedding_model, cache_dir=model_cache, precision="int8", bulk="bf16"
        )


@needs_bf16
def test_bulk_vectors_agree_with_the_graph_and_queries_stay_on_it(model_cache) -> None:
    texts = [f"Route {n} of the Fastify server answers GET /items/{n} in JSON." for n in range(600)]
    texts += ["x " * 400]  # past the model's 256 tokens: truncated the same way on both paths
    model = Settings().embedding_model
    exact = OnnxEmbedder(model, cache_dir=model_cache, bulk="onnx").embed(texts)
    bulk = OnnxEmbedder(model, cache_dir=model_cache, bulk="bf16")
    assert sum(len(e.ids) for e in bulk.tokenizer.encode_batch(texts)) >= BULK_MIN_TOKENS

    query = bulk.embed(["how do I add a route?"])
    assert bulk._bulk is None  # a query never loads torch
    few = bulk.embed(texts[:20])
    assert bulk._bulk is None  # nor does a call too small to be worth loading torch
    got = bulk.embed(texts)
    assert bulk._bulk is not None
    cosines = np.sum(exact * got, axis=1)
    assert cosines.min() > 0.9999, cosines.min()
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert query.shape == (1, exact.shape[1])
    assert np.allclose(few, exact[:20], atol=1e-5)


def test_auto_uses_bf16_only_for_the_fp32_graph_on_a_bf16_cpu(tmp_path) -> None:
    amx, plain = _cpuinfo(tmp_path, "avx512f amx_bf16"), tmp_path / "none"
    assert bulk_mode("auto", "fp32", amx) == "bf16"
    assert bulk_mode("auto", "int8", amx) == "onnx"
    assert bulk_mode("auto", "fp32", plain) == "onnx"
    assert bulk_mode("onnx", "fp32", amx) == "onnx"
    assert bulk_mode("bf16", "fp32", plain) == "bf16"  # asked for: torch then checks


def test_giving_the_heap_back_is_harmless_without_glibc(monkeypatch) -> None:
    import ctypes

    from assistant.embeddings import bf16

    bf16.trim_heap()  # glibc here: returns free pages, changes nothing else
    bf16._libc.cache_clear()

    def no_libc(*args, **kwargs):
        raise OSError("no such library")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    try:
        bf16.trim_heap()  # musl, macOS: nothing to call, nothing raised
    finally:
        bf16._libc.cache_clear()
