"""The ONNX export gives the same vectors as sentence-transformers (cosine > 0.999)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.embeddings.onnx import OnnxEmbedder
from assistant.settings import Settings

TEXTS = [
    "Which backend framework should a Python ML team pick for AWS Lambda?",
    "Fiber — Express-like API, fasthttp-based (NOT net/http-compatible).",
    "a",
    "Spring Boot + Virtual Threads is a very good default in 2026. " * 40,  # truncated at 256
]


@pytest.mark.slow
def test_onnx_matches_sentence_transformers(embedder) -> None:
    from assistant.embeddings.sentence_transformers import SentenceTransformerEmbedder

    reference = SentenceTransformerEmbedder(Settings().embedding_model).embed(TEXTS)
    got = embedder.embed(TEXTS)  # batched together: padding must not change vectors
    cosines = np.sum(reference * got, axis=1)
    assert cosines.min() > 0.999, cosines


def test_vectors_are_normalised_and_batch_independent(embedder) -> None:
    batch = embedder.embed(TEXTS)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    alone = np.stack([embedder.embed_one(t) for t in TEXTS])
    assert np.allclose(batch, alone, atol=1e-4)
    assert isinstance(embedder, OnnxEmbedder)


def test_query_path_never_imports_torch(corpus_assistant) -> None:
    """The CLI's speed depends on it: torch alone takes seconds to import."""
    s = corpus_assistant.settings
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant.service import Assistant\n"
        "from assistant.settings import Settings\n"
        f"a = Assistant(Settings(data_dir=Path({str(s.data_dir)!r}), "
        f"model_cache_dir=Path({str(s.models_dir)!r})))\n"
        "assert not a.ask('What is Hono?').refused\n"
        "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def _passage(lines: list[str]):
    """A chunk-like passage: a heading line, then one unit per line."""
    from assistant.embeddings.base import Passage

    text = "\n".join(lines)
    spans, at = [], len(lines[0]) + 1
    for line in lines[1:]:
        spans.append((at, at + len(line)))
        at += len(line) + 1
    return Passage(text, tuple(spans), tuple(lines[1:]))


def test_bulk_lanes_give_the_vectors_of_one_session(embedder) -> None:
    """Many batches run on one single-threaded session per core: same vectors."""
    texts = [f"{t} ({n})" for n in range(12) for t in TEXTS]
    assert len(texts) > 4 * embedder.batch_size
    spread = embedder.embed(texts)
    alone = np.stack([embedder.embed_one(t) for t in texts])
    assert np.allclose(spread, alone, atol=1e-4)


def test_passages_embed_text_and_units_as_their_own_texts(embedder) -> None:
    """By default a unit's vector is the vector of its text, embedded alone."""
    p = _passage(["Routes", "Fastify routes take a schema.", "A handler replies."])
    vectors, units = embedder.embed_passages([p, _passage(["Empty heading only"])])
    assert np.allclose(vectors[0], embedder.embed_one(p.text), atol=1e-4)
    assert np.allclose(units[0], embedder.embed(list(p.span_texts)), atol=1e-4)
    assert units[1].shape == (0, embedder.dimension)


@pytest.fixture(scope="module")
def pooled(model_cache) -> OnnxEmbedder:
    return OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache, pooled_units=True)


def test_pooled_units_come_from_the_passage_pass(pooled, embedder) -> None:
    """One pass: the passage vector is the plain one; a unit's is the mean of its own
    tokens' states there, so it is near its text alone but read in context."""
    p = _passage(["Routes", "Fastify routes take a JSON schema.", "A handler replies."])
    vectors, [units] = pooled.embed_passages([p])
    assert np.allclose(vectors[0], embedder.embed_one(p.text), atol=1e-4)
    assert np.allclose(np.linalg.norm(units, axis=1), 1.0, atol=1e-5)
    alone = embedder.embed(list(p.span_texts))
    own = np.sum(units * alone, axis=1)
    assert own.min() > 0.6  # near its own text…
    assert own[0] > float(units[0] @ alone[1])  # …and nearer it than to its neighbour's
    assert not np.allclose(units, alone, atol=1e-3)


def test_pooled_units_past_the_first_window_are_read_in_a_later_one(pooled) -> None:
    """A passage longer than the model's window still gives every unit a vector of its
    own tokens (from an overlapping later window), not the truncated passage's."""
    filler = " ".join(f"word{n}" for n in range(400))
    late = "Undici pools keep-alive sockets per origin."
    p = _passage(["Long section", filler, late])
    _, [units] = pooled.embed_passages([p])
    alone = pooled.embed_one(late)
    assert float(units[1] @ alone) > 0.6
    assert float(units[1] @ units[0]) < float(units[1] @ alone)


@pytest.mark.slow
def test_int8_graph_is_checked_against_fp32_and_cached(model_cache) -> None:
    fp32 = OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache)
    int8 = OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache, precision="int8")
    assert list(model_cache.glob("*-int8.onnx"))
    cosines = np.sum(fp32.embed(TEXTS) * int8.embed(TEXTS), axis=1)
    assert cosines.min() > 0.97 and not np.allclose(cosines, 1.0, atol=1e-4)


def test_precision_and_unit_pooling_are_part_of_the_model_identity() -> None:
    """An index embedded one way is never queried with vectors made another way."""
    from assistant.index.identity import model_identity

    names = {
        model_identity(Settings(embedding_precision=p, unit_vectors=u), 384)
        for p in ("fp32", "int8")
        for u in ("separate", "pooled")
    }
    assert len(names) == 4


def test_a_second_session_opens_the_graph_as_optimized_the_first_time(model_cache) -> None:
    """ONNX Runtime's optimized graph is saved beside the export, its weights in a file of
    their own (mapped when a session opens, not copied out of the graph); a session
    opened on it skips the optimization and gives the same vectors."""

    def optimized() -> list:
        return [p for p in model_cache.glob("*.ort*.onnx") if "-int8" not in p.name]

    first = OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache)
    first.embed(TEXTS)
    saved = optimized()
    assert len(saved) == 1
    assert saved[0].stat().st_size < 1_000_000, "the weights are not inline"
    stem = saved[0].name.removesuffix(".onnx")
    assert [w.stat().st_size > 80_000_000 for w in model_cache.glob(f"{stem}.*.weights")] == [True]
    again = OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache)
    assert np.allclose(first.embed(TEXTS), again.embed(TEXTS), atol=1e-5)
    assert optimized() == saved
    assert not list(model_cache.glob(".*tmp*")), "no half-written file is left"


def test_prepare_opens_the_session_once_in_the_background(model_cache, monkeypatch) -> None:
    """`prepare` returns at once; the `embed` after it uses the session it opened."""
    embedder = OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache)
    opened = []
    real_open = embedder._open
    monkeypatch.setattr(embedder, "_open", lambda threads: opened.append(1) or real_open(threads))
    embedder.prepare()
    embedder.prepare()  # while it opens, or after: still one session
    vectors = embedder.embed(TEXTS[:2])
    embedder.prepare()
    assert vectors.shape == (2, embedder.dimension)
    assert opened == [1]


def test_a_process_ending_while_the_session_opens_exits_cleanly(model_cache) -> None:
    """A command that fails before it embeds (an empty question) ends its process while
    the session may still be opening: the exit waits for it instead of aborting."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant.embeddings.onnx import OnnxEmbedder\n"
        "from assistant.settings import Settings\n"
        f"e = OnnxEmbedder(Settings().embedding_model, cache_dir=Path({str(model_cache)!r}))\n"
        "e.prepare()\n"
        "sys.exit(3)\n"
    )
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 3, done.stderr


def test_a_graph_that_fails_to_open_in_the_background_fails_in_embed(tmp_path) -> None:
    """The error is the caller's to see, where it embeds, not a thread's traceback."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    embedder = OnnxEmbedder(Settings().embedding_model, onnx_path=broken)
    embedder.prepare()
    with pytest.raises(Exception, match=r"(?i)protobuf|invalid|load"):
        embedder.embed(["a question"])


def test_an_optimized_graph_of_the_earlier_kind_is_replaced(model_cache, tmp_path) -> None:
    """A cache from before weights were saved apart holds an inline optimized graph: the
    first session saves the new kind and removes it, so 90 MB are not kept twice."""
    OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache).embed(TEXTS)
    export = next(p for p in model_cache.glob("model-*.onnx") if ".ort" not in p.name
                  and "-int8" not in p.name)  # fmt: skip
    shutil.copy(export, tmp_path / export.name)
    new = next(p for p in model_cache.glob(f"{export.stem}.ort*.onnx"))
    earlier = tmp_path / new.name.replace(".mapped.onnx", ".onnx")
    earlier.write_bytes(b"an inline graph")
    OnnxEmbedder(Settings().embedding_model, cache_dir=tmp_path).embed(TEXTS)
    assert (tmp_path / new.name).exists()
    assert not earlier.exists()


def test_a_cache_the_optimized_graph_cannot_be_saved_in_still_embeds(model_cache, tmp_path):
    """Saving is a speed-up: where the file cannot be written, the session opens without."""
    import os
    import platform

    import onnxruntime as ort

    OnnxEmbedder(Settings().embedding_model, cache_dir=model_cache).embed(TEXTS)
    export = next(p for p in model_cache.glob("model-*.onnx") if ".ort" not in p.name
                  and "-int8" not in p.name)  # fmt: skip
    shutil.copy(export, tmp_path / export.name)
    saved = f"{export.stem}.ort{ort.__version__}-{platform.machine()}.mapped.onnx"
    (tmp_path / f".{saved}.tmp{os.getpid()}").mkdir()  # where it would write: taken
    vectors = OnnxEmbedder(Settings().embedding_model, cache_dir=tmp_path).embed(TEXTS)
    assert np.allclose(vectors, OnnxEmbedder(Settings().embedding_model,
                                             cache_dir=model_cache).embed(TEXTS), atol=1e-5)  # fmt: skip
    assert not (tmp_path / saved).exists()
    assert not list(tmp_path.glob("*.weights")), "nothing half-saved is left"


def test_the_export_is_keyed_by_the_model_not_by_where_or_when_it_was_installed(tmp_path):
    """A reinstall (new mtimes) or another venv (another path) reuses the export; a
    changed config or different weights make a new one."""
    import os
    import shutil

    from assistant.embeddings.onnx_graph import _model_key

    source = Path(Settings().embedding_model)
    a, b = tmp_path / "a" / source.name, tmp_path / "b" / source.name
    for target in (a, b):
        target.mkdir(parents=True)
        for name in ("config.json", "tokenizer.json", "modules.json"):
            shutil.copyfile(source / name, target / name)
        (target / "model.safetensors").write_bytes(b"w" * 1000)
    os.utime(b / "config.json", (0, 0))
    assert _model_key(a) == _model_key(b)
    (b / "model.safetensors").write_bytes(b"w" * 1001)
    assert _model_key(a) != _model_key(b)
    (b / "model.safetensors").write_bytes(b"w" * 1000)
    (b / "config.json").write_text((a / "config.json").read_text().replace("384", "385"))
    assert _model_key(a) != _model_key(b)
