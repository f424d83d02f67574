"""The embedding model as an ONNX graph run by onnxruntime: same vectors, no torch.

The graph is exported once from the sentence-transformers model folder (that step needs
torch) and cached; the export is checked against sentence-transformers (cosine > 0.999)
before it is used.  Pooling and normalisation are done here in numpy, as the model's
own `1_Pooling` / `Normalize` modules do.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.embeddings.base import Embedder, normalise
from assistant.errors import ConfigError

CHECK_SENTENCES = [
    "Fastify is schema-first.",
    "Which backend framework should a Python ML team deploying to AWS Lambda pick?",
    "x",
    "Spring Boot + Virtual Threads is a very good default in 2026. " * 8,
]


def _model_key(model_dir: Path) -> str:
    """Changes whenever the model's weights or config change."""
    h = hashlib.sha256(str(model_dir.resolve()).encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json"):
        p = model_dir / name
        if p.exists():
            st = p.stat()
            h.update(f"{name}:{st.st_size}:{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _check_pooling(model_dir: Path) -> tuple[int, bool]:
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


def _verify(model_dir: Path, onnx_path: Path) -> None:
    from assistant.embeddings.sentence_transformers import SentenceTransformerEmbedder

    ref = SentenceTransformerEmbedder(str(model_dir)).embed(CHECK_SENTENCES)
    got = OnnxEmbedder(str(model_dir), onnx_path=onnx_path).embed(CHECK_SENTENCES)
    worst = float(np.min(np.sum(ref * got, axis=1)))
    if worst < 0.999:
        raise ConfigError(f"ONNX export disagrees with sentence-transformers (cosine {worst:.4f})")


class OnnxEmbedder(Embedder):
    name = "onnx"

    def __init__(
        self,
        model_path: str,
        cache_dir: Path | None = None,
        onnx_path: Path | None = None,
        threads: int = 0,
    ) -> None:
        model_dir = Path(model_path)
        if not (model_dir / "tokenizer.json").exists():
            raise ConfigError(f"embedding model folder not found or incomplete: {model_dir}")
        self.max_len, self.normalize = _check_pooling(model_dir)
        if onnx_path is None:
            cache = cache_dir or model_dir
            onnx_path = Path(cache) / f"{model_dir.name}-{_model_key(model_dir)}.onnx"
            if not onnx_path.exists():
                export_onnx(model_dir, onnx_path)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self.tokenizer.enable_padding(pad_id=self.tokenizer.token_to_id("[PAD]") or 0)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])

    @property
    def dimension(self) -> int:
        return self._dim

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return normalise(pooled) if self.normalize else pooled.astype(np.float32)
