"""The embedding model as an ONNX graph run by onnxruntime: same vectors, no torch.

The graph is exported once from the sentence-transformers model folder (that step needs
torch) and cached; the export is checked against sentence-transformers (cosine > 0.999)
before it is used.  Pooling and normalisation are done here in numpy, as the model's
own `1_Pooling` / `Normalize` modules do.

`int8` precision runs a copy of the graph with its weights quantized per channel
(ONNX Runtime's dynamic quantization): ~1.7x faster on CPU, cosine to fp32 ~0.99. The
same graph must embed the index and the questions, so the precision is part of the
index's model identity.

Answer units get their vectors from their passage's own pass: the token states of the
unit's span are mean-pooled, as the whole passage is, so a chunk costs one encoder pass
rather than one plus one per unit (and a unit is read in its context).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from assistant.embeddings.base import Embedder, Passage, R, T, normalise
from assistant.errors import ConfigError

# Tokens a passage window repeats from the one before it: a unit cut by a window's end
# is read whole, with context, in the next.
WINDOW_OVERLAP = 64
# An int8 graph far from its fp32 source is a failed quantization, not a model.
INT8_MIN_COSINE = 0.97

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


def quantize_int8(source: Path, target: Path, model_dir: Path) -> Path:
    """The fp32 graph with its weights quantized to int8 per output channel, checked
    against the fp32 graph before it is used."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_suffix(f".tmp{os.getpid()}")
    try:
        quantize_dynamic(str(source), str(tmp), per_channel=True, weight_type=QuantType.QInt8)
        ref = OnnxEmbedder(str(model_dir), onnx_path=source).embed(CHECK_SENTENCES)
        got = OnnxEmbedder(str(model_dir), onnx_path=tmp).embed(CHECK_SENTENCES)
        worst = float(np.min(np.sum(ref * got, axis=1)))
        if worst < INT8_MIN_COSINE:
            raise ConfigError(f"the int8 graph disagrees with fp32 (cosine {worst:.4f})")
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
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
    batch_size = 4  # small batches pad little; the cores share them out (`_map_batches`)

    def __init__(
        self,
        model_path: str,
        cache_dir: Path | None = None,
        onnx_path: Path | None = None,
        threads: int = 0,
        precision: str = "fp32",
        pooled_units: bool = False,
    ) -> None:
        model_dir = Path(model_path)
        if not (model_dir / "tokenizer.json").exists():
            raise ConfigError(f"embedding model folder not found or incomplete: {model_dir}")
        self.max_len, self.normalize = _check_pooling(model_dir)
        self.pooled_units = pooled_units
        if onnx_path is None:
            cache = cache_dir or model_dir
            onnx_path = Path(cache) / f"{model_dir.name}-{_model_key(model_dir)}.onnx"
            if not onnx_path.exists():
                export_onnx(model_dir, onnx_path)
            if precision == "int8":
                fp32, onnx_path = onnx_path, onnx_path.with_name(f"{onnx_path.stem}-int8.onnx")
                if not onnx_path.exists():
                    quantize_int8(fp32, onnx_path, model_dir)
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_len)
        self._pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=self._pad_id)
        self._model_dir = model_dir
        self._windows = None
        self._onnx_path = onnx_path
        self.session = self._open(threads)
        # Bulk embedding runs one single-threaded session per core over small batches:
        # on CPU that beats one session splitting each (larger) batch across the cores,
        # and the vectors are the same. An explicit thread count keeps one session.
        self._lanes = (os.cpu_count() or 1) if threads == 0 else 1
        self._lane = threading.local()
        self._lanes_pool: ThreadPoolExecutor | None = None
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])

    def _open(self, threads: int):
        """A session on the graph as ONNX Runtime optimized it the first time (saved
        beside the export): opening it then skips the optimization, ~3x faster."""
        import platform

        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        tag = f"ort{ort.__version__}-{platform.machine()}"
        optimized = self._onnx_path.with_name(f"{self._onnx_path.stem}.{tag}.onnx")
        path = self._onnx_path
        if optimized.exists():
            path = optimized
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        else:
            tmp = optimized.with_name(f".{optimized.name}.tmp{os.getpid()}")
            opts.optimized_model_filepath = str(tmp)
        session = ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        if path is self._onnx_path:  # a read-only cache: the slow way every time
            with contextlib.suppress(OSError):
                os.replace(tmp, optimized)  # atomic: readers see the whole file or none
        return session

    @property
    def dimension(self) -> int:
        return self._dim

    def _map_batches(self, fn: Callable[[T], R], batches: Sequence[T]) -> Iterator[R]:
        if len(batches) < 2 or self._lanes < 2:
            return map(fn, batches)
        if self._lanes_pool is None:
            self._lanes_pool = ThreadPoolExecutor(
                self._lanes, thread_name_prefix="embed", initializer=self._open_lane
            )
        return self._lanes_pool.map(fn, batches)

    def _open_lane(self) -> None:
        self._lane.session = self._open(1)

    def _session(self):
        """The calling lane's own session (a session runs one batch at a time well)."""
        return getattr(self._lane, "session", None) or self.session

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        return self._pool(self._hidden(ids, mask), mask)

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return self._session().run(None, feeds)[0]

    def _pool(self, hidden: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Mean of the token states each row of `weights` (0/1 per token) selects."""
        m = weights[..., None].astype(np.float32)
        pooled = (hidden * m).sum(axis=-2) / np.maximum(m.sum(axis=-2), 1e-9)
        return normalise(pooled) if self.normalize else pooled.astype(np.float32)

    def _window_tokenizer(self):
        """The tokenizer cutting a passage into overlapping windows (ingest only)."""
        if self._windows is None:
            from tokenizers import Tokenizer

            self._windows = Tokenizer.from_file(str(self._model_dir / "tokenizer.json"))
            self._windows.no_padding()
            self._windows.enable_truncation(max_length=self.max_len, stride=WINDOW_OVERLAP)
        return self._windows

    def embed_passages(self, passages: Sequence[Passage]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The passage vector is its first window's mean (as `embed` gives); a span's is
        the mean of its tokens' states in the window that holds most of it."""
        if not self.pooled_units:
            return super().embed_passages(passages)
        windows = []  # (passage, window number, encoding)
        tokenizer = self._window_tokenizer()
        for n, passage in enumerate(passages):
            first = tokenizer.encode(passage.text)
            windows += [(n, w, e) for w, e in enumerate([first, *first.overflowing])]
        vectors = np.zeros((len(passages), self.dimension), dtype=np.float32)
        spans = [np.zeros((len(p.spans), self.dimension), dtype=np.float32) for p in passages]
        covered = [np.zeros(len(p.spans), dtype=np.int64) for p in passages]
        windows.sort(key=lambda item: len(item[2].ids))
        batches = [
            windows[start : start + self.batch_size]
            for start in range(0, len(windows), self.batch_size)
        ]

        def run(batch: list) -> tuple[np.ndarray, np.ndarray]:
            width = max(len(e.ids) for _, _, e in batch)
            ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, (_, _, e) in enumerate(batch):
                ids[row, : len(e.ids)], mask[row, : len(e.ids)] = e.ids, 1
            return self._hidden(ids, mask), mask

        for batch, (hidden, mask) in zip(batches, self._map_batches(run, batches), strict=True):
            width = mask.shape[1]
            for row, (n, w, e) in enumerate(batch):
                if w == 0:
                    vectors[n] = self._pool(hidden[row][None], mask[row][None])[0]
                if not passages[n].spans:
                    continue
                offsets = np.zeros((width, 2), dtype=np.int64)
                offsets[: len(e.offsets)] = e.offsets
                bounds = np.asarray(passages[n].spans, dtype=np.int64)
                inside = (
                    (offsets[None, :, 0] >= bounds[:, :1])
                    & (offsets[None, :, 1] <= bounds[:, 1:])
                    & (offsets[None, :, 1] > offsets[None, :, 0])  # special tokens: (0, 0)
                )
                counts = inside.sum(axis=1)
                better = counts > covered[n]
                if better.any():
                    spans[n][better] = self._pool(hidden[row][None], inside[better])
                    covered[n][better] = counts[better]
        # A span no window holds a token of (blank text): embedded as its own text.
        missing = [(n, i) for n, c in enumerate(covered) for i in np.flatnonzero(c == 0)]
        if missing:
            alone = self.embed([passages[n].span_texts[i] for n, i in missing])
            for (n, i), vec in zip(missing, alone, strict=True):
                spans[n][i] = vec
        return vectors, spans
