"""The embedding model as an ONNX graph run by onnxruntime: same vectors, no torch.

The graph (fp32, or int8 with `precision="int8"`) is made once and cached by
`onnx_graph.py`. Pooling and normalisation are done here in numpy, as the model's own
`1_Pooling` / `Normalize` modules do. With `pooled_units`, answer units get their vectors
from their passage's own pass: the token states of each unit's span are mean-pooled, as
the whole passage is, so a chunk costs one encoder pass rather than one plus one per
unit (and a unit is read in its context).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from assistant.embeddings.base import Embedder, Passage, R, T, normalise
from assistant.embeddings.onnx_graph import check_pooling, graph_path
from assistant.errors import ConfigError

# Tokens a passage window repeats from the one before it: a unit cut by a window's end
# is read whole, with context, in the next.
WINDOW_OVERLAP = 64


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
        self.max_len, self.normalize = check_pooling(model_dir)
        self.pooled_units = pooled_units
        if onnx_path is None:
            onnx_path = graph_path(model_dir, Path(cache_dir or model_dir), precision)
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
