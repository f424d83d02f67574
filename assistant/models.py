"""The data that crosses module boundaries: chunk records, hits, citations, answers."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class ChunkRecord:
    """A chunk as stored: text, place, and its answer units with their vectors."""

    id: str
    text: str
    source: str
    title: str
    section: str
    order: int = 0
    units: list[dict] = field(default_factory=list)
    unit_vecs: np.ndarray | None = None
    preview: bool = False
    digest: str = ""
    origin: str = ""  # absolute path of the file: what incremental ingest keys on
    work: str = ""  # the title of the guide the page is one file of ("" for an article)
    ingested_at: str = ""  # ISO-8601 UTC, when this chunk was first stored

    @property
    def document_id(self) -> str:
        """The id the documents API and citations name this chunk's file (or URL) by."""
        return document_id(self.origin)

    @property
    def document(self) -> str:
        """What makes one document for attribution: its work, else its file."""
        return f"work:{self.work}" if self.work else self.source

    def to_metadata(self) -> dict[str, Any]:
        vecs = self.unit_vecs if self.unit_vecs is not None else np.zeros((0, 0))
        return {
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "order": self.order,
            "preview": self.preview,
            "digest": self.digest,
            "origin": self.origin,
            "work": self.work,
            "ingested_at": self.ingested_at,
            "units": json.dumps(self.units, ensure_ascii=False),
            # float16 is plenty for ranking sentences and halves the metadata size
            "unit_vecs": base64.b64encode(vecs.astype(np.float16).tobytes()).decode(),
            "unit_dim": int(vecs.shape[1]) if vecs.ndim == 2 else 0,
        }

    @classmethod
    def from_store(cls, id: str, text: str, meta: dict[str, Any]) -> ChunkRecord:
        dim = int(meta.get("unit_dim") or 0)
        vecs = None
        if dim and meta.get("unit_vecs"):
            raw = np.frombuffer(base64.b64decode(meta["unit_vecs"]), dtype=np.float16)
            vecs = raw.reshape(-1, dim).astype(np.float32)
        return cls(
            id=id,
            text=text,
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            section=str(meta.get("section", "")),
            order=int(meta.get("order", 0)),
            units=json.loads(meta.get("units") or "[]"),
            unit_vecs=vecs,
            preview=bool(meta.get("preview", False)),
            digest=str(meta.get("digest", "")),
            origin=str(meta.get("origin", "")),
            work=str(meta.get("work", "")),
            ingested_at=str(meta.get("ingested_at", "")),
        )


def document_id(origin: str) -> str:
    """A short stable id for a document, from what identifies it (its path or URL)."""
    return "d" + hashlib.sha256(origin.encode("utf-8", "surrogateescape")).hexdigest()[:15]


@dataclass
class Hit:
    """A retrieved chunk with its fused score and per-retriever ranks."""

    chunk: ChunkRecord
    score: float
    dense: float | None = None  # cosine similarity
    bm25: float | None = None
    rank: int = 0
    context: bool = False  # read beside the k best for the answer; not evidence for the gate


SNIPPET_CHARS = 320  # the most of a cited passage an answer shows beside its [n]


@dataclass
class Citation:
    n: int
    source: str
    title: str
    section: str
    snippet: str
    score: float
    work: str = ""  # the guide a page belongs to, when it is one of many files
    document_id: str = ""  # the cited document, as the documents API names it

    @classmethod
    def of(cls, n: int, chunk: ChunkRecord, snippet: str, score: float) -> Citation:
        return cls(n=n, source=chunk.source, title=chunk.title, section=chunk.section,
                   snippet=snippet, score=round(score, 4), work=chunk.work,
                   document_id=chunk.document_id)  # fmt: skip

    @property
    def label(self) -> str:
        """What a reader is shown: the work, then the page's section."""
        head = self.work or self.title
        return f"{head} › {self.section}" if self.section and self.section != head else head


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    content: str


@dataclass
class Answer:
    """What every interface returns (CLI --json, HTTP, Slack)."""

    question: str
    answer: str
    citations: list[Citation]
    refused: bool
    backend: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    related_sections: list[str] = field(default_factory=list)  # closest sections on refusal
    standalone_question: str | None = None  # the follow-up rewritten for retrieval
    trace: dict[str, Any] | None = None  # retrieval, gate, agent steps: when asked for
    conversation_id: str | None = None
    # The LLM's answer could not be returned as written (it failed, or failed the citation
    # check): this is the extractive answer instead, and why.
    degraded: bool = False
    degraded_reason: str | None = None
    citations_removed: list[int] = field(default_factory=list)  # unknown [n] taken out
    # What the question asks about that the corpus does not cover: the answer covers the
    # rest and says so ("The corpus says nothing about Crystal").
    uncovered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
