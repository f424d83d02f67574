"""Section-aware chunking: LangChain's Markdown header splitter, then a size limit.

Every chunk carries its source, document title and heading path, is cut between units
(bullets, sentences, table rows) rather than inside one, and has an id derived from its
source, section, place and content, so re-ingesting unchanged text yields the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

from assistant.text import SEP, short_name
from ingest.loaders import SourceDocument
from ingest.units import Unit, addresses_assistant, split_units


@dataclass
class Chunk:
    id: str
    source: str
    title: str
    section: str
    text: str
    order: int
    units: list[dict] = field(default_factory=list)  # {"text": display, "raw": as written}
    preview: bool = False  # announces content the corpus lacks: never evidence
    digest: str = ""  # hash of the whole source file
    origin: str = ""  # absolute path of the source file

    @property
    def embed_text(self) -> str:
        return f"{self.section or self.title}\n{self.text}"


class Chunked(NamedTuple):
    chunks: list[Chunk]
    kept_out: list[str]  # passages that speak to the assistant: in no chunk, never evidence


@cache
def generic_headings(prompts_dir: Path) -> frozenset[str]:
    path = prompts_dir / "extractive" / "generic_headings.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#"))


def section_label(path: list[str], title: str, generic: frozenset[str]) -> tuple[str, str]:
    """The subject an answer sentence from this section is about, and the section's kind."""
    if not path:
        return title, "part"
    if len(path) == 1:
        return short_name(path[0]), "part"
    last = path[-1]
    if last.lower() in generic:
        return f"{short_name(path[-2])} — {last}", "generic"
    return last, "named"


def _mentions(text: str, label: str) -> bool:
    """Does the unit name the label's subject ('Micronaut / Quarkus': either will do)?"""
    subject = label.split(" — ")[0]
    names = [n.strip() for n in subject.split(" / ") if n.strip()]
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.I) for n in names)


def _display(unit: Unit, label: str, kind: str) -> str:
    """Prefix the label unless the unit already names its subject."""
    if unit.kind != "step" and (
        _mentions(unit.text, label) or (unit.self_subject and kind in {"part", "generic"})
    ):
        return unit.text
    return f"**{label}** — {unit.text}"


def chunk_document(doc: SourceDocument, max_chars: int, prompts_dir: Path) -> Chunked:
    """The document's chunks, and the passages kept out of them because they give
    orders to the assistant (they are neither quoted, scored, embedded nor shown to an
    LLM)."""
    from langchain_text_splitters import MarkdownHeaderTextSplitter

    splitter = MarkdownHeaderTextSplitter(
        [("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=True
    )
    generic = generic_headings(prompts_dir)
    preview = {str(s).strip().lower() for s in doc.meta.get("preview_sections") or []}
    chunks: list[Chunk] = []
    kept_out: list[str] = []
    seen: dict[str, int] = {}
    for part in splitter.split_text(doc.text):
        path = [part.metadata[h] for h in ("h2", "h3") if part.metadata.get(h)]
        if not path and part.metadata.get("h1") and part.metadata["h1"] != doc.title:
            path = [part.metadata["h1"]]
        section = SEP.join(path)
        label, kind = section_label(path, doc.title, generic)
        units = split_units(part.page_content)
        if addresses_assistant(SEP.join([doc.title, *path])):  # a heading giving orders
            kept_out += [u.raw for u in units]
            continue
        kept_out += [u.raw for u in units if u.addressed]
        units = [u for u in units if not u.addressed]
        is_preview = any(p.lower() in preview for p in path)
        for n, group in enumerate(_pack(units, max_chars)):
            text = "\n".join(u.raw for u in group)
            key = "\x1f".join([doc.origin or doc.source, section, str(n), text])
            seen[key] = seen.get(key, -1) + 1  # the same section twice: keep ids distinct
            digest = hashlib.sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()[:24]
            chunks.append(
                Chunk(
                    id=digest,
                    source=doc.source,
                    title=doc.title,
                    section=section,
                    text=text,
                    order=len(chunks),
                    units=[{"text": _display(u, label, kind), "raw": u.raw} for u in group],
                    preview=is_preview,
                    origin=doc.origin,
                    digest=doc.digest,
                )
            )
    return Chunked(chunks, kept_out)


def _pack(units: list[Unit], max_chars: int) -> list[list[Unit]]:
    """Greedy packing of whole units into chunks of at most `max_chars`."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for unit in units:
        n = len(unit.raw) + 1
        if current and size + n > max_chars:
            groups.append(current)
            current, size = [], 0
        if n > max_chars:  # one unit alone beyond the limit: cut at words, last resort
            groups += [[Unit(piece, piece, unit.kind)] for piece in _cut(unit.raw, max_chars)]
            continue
        current.append(unit)
        size += n
    if current:
        groups.append(current)
    return groups


def _cut(text: str, max_chars: int) -> list[str]:
    pieces, line = [], ""
    for word in text.split():
        if line and len(line) + len(word) + 1 > max_chars:
            pieces.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*pieces, line] if line else pieces
