"""The ONNX graph of the embedding model: exported once from the sentence-transformers
folder (that step needs torch), optionally quantized to int8, cached, and checked before
it is used: the export against sentence-transformers (cosine > 0.999), the int8 graph
against the export.

`int8` runs the graph with its weights quantized per channel (ONNX Runtime's dynamic
quantization): ~1.7x faster on CPU, cosine to fp32 ~0.99. The same graph must embed the
index and the questions, so the precision is part of the index's model identity.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from assistant.errors import ConfigError

# An int8 graph far from its fp32 source is a failed quantization, not a model.
INT8_MIN_COSINE = 0.97

CHECK_SENTENCES = [
    "Fastify is schema-first.",
    "Which backend framework should a Python ML team deploying to AWS Lambda pick?",
    "x",
    "Spring Boot + Virtual Threads is a very good default in 2026. " * 8,
]


def _model_key(model_dir: Path) -> str:
    """Changes whenever the model's weights or config change, and only then: the same
    model installed again (another venv, a reinstall) reuses its export rather than
    leaving another ~90 MB behind. Small files count by content, weights by size
    (hashing them would cost every start ~0.1 s)."""
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "modules.json", "1_Pooling/config.json"):
        p = model_dir / name
        if p.exists():
            h.update(f"{name}:".encode() + p.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = model_dir / name
        if p.exists():
            h.update(f"{name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:16]


def check_pooling(model_dir: Path) -> tuple[int, bool]:
    """Mean pooling is all this embedder implements; say so plainly otherwise."""
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ConfigError(f"{model_dir}: only mean-pooling models can run as ONNX here")
    modules = json.loads((model_dir / "modules.json").read_text())
    normalize = any(m.get("type", "").endswith("Normalize") for m in modules)
    max_len = 256
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.exists():
        max_len = int(json.loads(cfg.read_text()).get("max_seq_length", max_len))
    return max_len, normalize


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the transformer to ONNX (needs torch + transformers) and verify it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:  # pragma: no cover
        raise ConfigError(
            "exporting the embedding model to ONNX needs torch and transformers: "
            "pip install torch==2.13.0 sentence-transformers"
        ) from exc

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dummy = torch.ones(2, 8, dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about shapes we keep dynamic
        torch.onnx.export(
            _Hidden(model),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    try:
        _verify(model_dir, tmp)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)  # atomic: a killed export never leaves a half file
    return target


def quantize_int8(source: Path, target: Path, model_dir: Path) -> Path:
    """The fp32 graph with its weights quantized to int8 per output channel, checked
    against the fp32 graph before it is used."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from assistant.embeddings.onnx import OnnxEmbedder

    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        worst = _agreement(
            OnnxEmbedder(str(model_dir), onnx_path=source),
            OnnxEmbedder(str(model_dir), onnx_path=tmp),
        )
        if worst < INT8_MIN_COSINE:
            raise ConfigError(f"the int8 graph disagrees with fp32 (cosine {worst:.4f})")
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return target


def _verify(model_dir: Path, onnx_path: Path) -> None:
    from assistant.embeddings.onnx import OnnxEmbedder
    from assistant.embeddings.sentence_transformers import SentenceTransformerEmbedder

    worst = _agreement(
        SentenceTransformerEmbedder(str(model_dir)),
        OnnxEmbedder(str(model_dir), onnx_path=onnx_path),
    )
    if worst < 0.999:
        raise ConfigError(f"ONNX export disagrees with sentence-transformers (cosine {worst:.4f})")


def _agreement(reference, candidate) -> float:
    """The lowest cosine between two embedders' vectors of the check sentences."""
    ref, got = reference.embed(CHECK_SENTENCES), candidate.embed(CHECK_SENTENCES)
    return float(np.min(np.sum(ref * got, axis=1)))


def graph_path(model_dir: Path, cache: Path, precision: str) -> Path:
    """The cached graph of `model_dir` at `precision`, made first if it is missing."""
    path = cache / f"{model_dir.name}-{_model_key(model_dir)}.onnx"
    if not path.exists():
        export_onnx(model_dir, path)
    if precision == "int8":
        fp32, path = path, path.with_name(f"{path.stem}-int8.onnx")
        if not path.exists():
            quantize_int8(fp32, path, model_dir)
    return path
