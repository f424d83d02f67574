"""The plain baseline for ablations: what LangChain's quickstart gives a user.

Fixed 1000-character chunks (RecursiveCharacterTextSplitter, overlap 200), dense top-4
from langchain-chroma, the chunks themselves as the "answer", no gate. Each chunk is
mapped back to the sections its characters span so retrieval metrics can compare.
"""

from __future__ import annotations

import re
import tempfile
import time
import warnings
from pathlib import Path

from assistant.embeddings.langchain import LangChainEmbeddings
from assistant.models import Answer, Citation, Turn
from assistant.settings import Settings
from assistant.text import SEP

_HEADING = re.compile(r"^(#{2,3})\s+(.+)$", re.M)


def _sections_by_offset(text: str) -> list[tuple[int, str]]:
    marks, h2 = [], ""
    for m in _HEADING.finditer(text):
        if len(m.group(1)) == 2:
            h2 = m.group(2).strip()
            marks.append((m.start(), h2))
        else:
            marks.append((m.start(), f"{h2}{SEP}{m.group(2).strip()}"))
    return marks


class QuickstartBaseline:
    name = "baseline"

    def __init__(self, settings: Settings, embedder, k: int = 4) -> None:
        from langchain_chroma import Chroma
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.k = k
        self._tmp = tempfile.TemporaryDirectory(prefix="stackguide-baseline-")
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=1000, chunk_overlap=200, add_start_index=True
        )
        texts, metas = [], []
        for path in sorted(Path(settings.corpus_dir).rglob("*.md")):
            raw = path.read_text(encoding="utf-8")
            marks = _sections_by_offset(raw)
            for doc in splitter.create_documents([raw]):
                start = doc.metadata["start_index"]
                end = start + len(doc.page_content)
                spanned = [
                    s
                    for i, (pos, s) in enumerate(marks)
                    if pos < end and (i + 1 == len(marks) or marks[i + 1][0] > start)
                ]
                texts.append(doc.page_content)
                metas.append({"source": path.name, "sections": "\n".join(spanned)})
        from chromadb.config import Settings as ChromaSettings

        self.store = Chroma(
            collection_name="baseline",
            embedding_function=LangChainEmbeddings(embedder),
            persist_directory=self._tmp.name,
            client_settings=ChromaSettings(
                anonymized_telemetry=False, is_persistent=True, persist_directory=self._tmp.name
            ),
        )
        self.store.add_texts(texts, metadatas=metas)

    def ask(self, question: str, history: list[Turn] = (), **_: object) -> Answer:  # type: ignore[assignment]
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            # LangChain's default L2 relevance is negative for distant chunks and it warns
            # on every query; the score is only displayed here.
            warnings.filterwarnings("ignore", "Relevance scores must be between 0 and 1")
            docs = self.store.similarity_search_with_relevance_scores(question, k=self.k)
        retrieved, citations, parts = [], [], []
        for n, (doc, score) in enumerate(docs, start=1):
            sections = [s for s in doc.metadata["sections"].split("\n") if s]
            retrieved += [{"section": s} for s in sections]
            citations.append(
                Citation(
                    n,
                    doc.metadata["source"],
                    "",
                    sections[0] if sections else "",
                    doc.page_content,
                    round(score, 4),
                )
            )
            parts.append(f"{doc.page_content} [{n}]")
        return Answer(
            question=question,
            answer="\n\n".join(parts),
            citations=citations,
            refused=False,
            backend=self.name,
            timings_ms={"total": (time.perf_counter() - t0) * 1000},
            trace={"retrieved": retrieved},
        )
