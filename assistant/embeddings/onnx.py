"""The embedding model as an ONNX graph run by onnxruntime: same vectors, no torch.

The graph (fp32, or int8 with `precision="int8"`) is made once and cached by
`onnx_graph.py`. Pooling and normalisation are done here in numpy, as the model's own
`1_Pooling` / `Normalize` modules do. With `pooled_units`, answer units get their vectors
from their passage's own pass: the token states of each unit's span are mean-pooled, as
the whole passage is, so a chunk costs one encoder pass rather than one plus one per
unit (and a unit is read in its context). With `bulk`, batches of ingest size are
encoded in bfloat16 by `bf16.py` where the CPU does that natively; queries stay here.
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
# The bf16 bulk path (`bf16.py`) takes calls of at least this many tokens (~1 s on the
# graph): loading torch costs ~3 s once, so a query, a small upload or the bundled
# article stay on the graph and never import it.
BULK_MIN_TOKENS = 8192
# Tokens per bulk batch, padding included: one batch uses all cores, and this bounds
# its activations.
BULK_TOKENS = 2048
# Bulk batches are padded to a multiple of this: oneDNN keeps kernels per input shape,
# and fewer shapes hold less memory (~0.4 GB less over a corpus).
BULK_WIDTH_STEP = 32


# The saved optimized graph keeps its weights in a file of their own (`_open`); the name
# tells it from the earlier kind, which held them inline.
WEIGHTS_APART = "mapped"


def _session(ort, path: Path, opts):
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def _bulk_width(tokens: int) -> int:
    return -(-tokens // BULK_WIDTH_STEP) * BULK_WIDTH_STEP


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
        bulk: str = "onnx",
    ) -> None:
        from assistant.embeddings.bf16 import bulk_mode

        self._bulk_mode = bulk_mode(bulk, precision)
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
        self.tokenizer.no_padding()  # `_encode` pads each batch to its own width
        self._pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self._model_dir = model_dir
        self._windows = None
        self._onnx_path = onnx_path
        self._main_session = None  # opened on first use (`_session`) or by `prepare`
        self._opening = threading.Lock()
        self._saving = threading.Lock()
        # Bulk embedding runs one single-threaded session per core over small batches:
        # on CPU that beats one session splitting each (larger) batch across the cores,
        # and the vectors are the same. An explicit thread count keeps one session.
        self._lanes = (os.cpu_count() or 1) if threads == 0 else 1
        self._lane = threading.local()
        self._lanes_pool: ThreadPoolExecutor | None = None
        self._dim = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        self._threads = threads
        self._bulk = None

    def _open(self, threads: int):
        """A session on the graph as ONNX Runtime optimized it the first time (saved
        beside the export): opening it then skips the optimization, ~3x faster. Its
        weights are saved apart from the graph, and a session maps that file rather than
        parsing and copying 90 MB out of the graph: ~3x faster again."""
        import platform

        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = threads
        tag = f"ort{ort.__version__}-{platform.machine()}"
        optimized = self._onnx_path.with_name(f"{self._onnx_path.stem}.{tag}.{WEIGHTS_APART}.onnx")
        # Ingest's lanes open at once: one optimizes and saves, the others then read that.
        with self._saving:
            if optimized.exists():
                opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
                session = _session(ort, optimized, opts)
            else:
                earlier = optimized.with_name(f"{self._onnx_path.stem}.{tag}.onnx")
                session = self._optimize(ort, opts, optimized, earlier)
        self._inputs = {i.name for i in session.get_inputs()}  # the same graph every lane
        return session

    def _optimize(self, ort, opts, optimized: Path, earlier: Path):
        """A session on the export, saving the graph it optimizes as `optimized` in place
        of the `earlier` kind, which kept its weights inline."""
        pid = os.getpid()
        tmp = optimized.with_name(f".{optimized.name}.tmp{pid}")
        opts.optimized_model_filepath = str(tmp)
        # The graph names its weights' file; each process writes its own, so a file a
        # session has mapped is never rewritten under it.
        weights = optimized.with_name(f"{optimized.stem}.{pid}.weights")
        opts.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", weights.name
        )
        opts.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
        )
        try:
            session = _session(ort, self._onnx_path, opts)
        except Exception:
            # A cache it cannot write to (ONNX Runtime fails the session over the file it
            # could not save): the slow way every time, without saving.
            with contextlib.suppress(OSError):  # weights it may have saved before failing
                weights.unlink()
            opts.optimized_model_filepath = ""
            return _session(ort, self._onnx_path, opts)
        with contextlib.suppress(OSError):
            os.replace(tmp, optimized)  # atomic: readers see the whole graph or none
            earlier.unlink(missing_ok=True)
        return session

    @property
    def dimension(self) -> int:
        return self._dim

    def _bulk_encoder(self):
        if self._bulk is None:
            from assistant.embeddings.bf16 import Bf16Encoder

            self._bulk = Bf16Encoder(self._model_dir, self._threads or (os.cpu_count() or 1))
        return self._bulk

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
        """The calling lane's own session (a session runs one batch at a time well), or
        the main one, opened on first use: a bf16 ingest never needs it."""
        lane = getattr(self._lane, "session", None)
        if lane is not None:
            return lane
        with self._opening:  # a session `prepare` is opening is waited for, not opened twice
            if self._main_session is None:
                self._main_session = self._open(self._threads)
            return self._main_session

    def prepare(self) -> None:
        """Open the session in the background: ONNX Runtime maps the weights and sets up
        the graph largely outside the GIL, while the caller loads the rest."""
        if self._main_session is None and not self._opening.locked():
            # Not a daemon: a process ending while ONNX Runtime is still opening the graph
            # (a command that fails early) waits for it rather than aborting in C++.
            threading.Thread(target=self._try_open, name="embed-open").start()

    def _try_open(self) -> None:
        # A graph that fails to open fails again, and is reported, in the `embed` that
        # needs it: that is where the caller handles errors.
        with contextlib.suppress(Exception):
            self._session()

    def embed(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        # A text repeated (a line two chunks share) is encoded once.
        unique = list(dict.fromkeys(texts))
        vectors = np.zeros((len(unique), self.dimension), dtype=np.float32)
        for rows, hidden, mask in self._encode(self.tokenizer.encode_batch(unique)):
            vectors[rows] = self._pool(hidden, mask)
            if progress:
                progress(len(rows))
        if len(unique) == len(texts):
            return vectors
        if progress:
            progress(len(texts) - len(unique))  # the repeats, done with their first
        where = {text: n for n, text in enumerate(unique)}
        return vectors[[where[t] for t in texts]]

    def _embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed(texts)  # `embed` batches by token count itself

    def _encode(self, encodings: Sequence) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(rows, token states, mask) for batches of the encodings, in order of length:
        a batch of similar lengths pads little."""
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        bulk = self._bulk_mode == "bf16" and sum(len(e.ids) for e in encodings) >= BULK_MIN_TOKENS
        if bulk:
            batches: list[list[int]] = []
            for i in order:
                width = _bulk_width(len(encodings[i].ids))
                if batches and (len(batches[-1]) + 1) * width <= BULK_TOKENS:
                    batches[-1].append(i)
                else:
                    batches.append([i])
        else:
            size = self.batch_size
            batches = [order[s : s + size] for s in range(0, len(order), size)]

        def run(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
            width = max(len(encodings[i].ids) for i in rows)
            if bulk:
                width = _bulk_width(width)
            ids = np.full((len(rows), width), self._pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for row, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            if bulk:
                return self._bulk_encoder().hidden(ids, mask), mask
            return self._hidden(ids, mask), mask

        results = map(run, batches) if bulk else self._map_batches(run, batches)
        for rows, (hidden, mask) in zip(batches, results, strict=True):
            yield rows, hidden, mask
        if bulk:
            from assistant.embeddings.bf16 import trim_heap

            trim_heap()

    def _hidden(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        session = self._session()
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return session.run(None, feeds)[0]

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
        for rows, hidden, mask in self._encode([e for _, _, e in windows]):
            width = mask.shape[1]
            for row, (n, w, e) in enumerate(windows[i] for i in rows):
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
