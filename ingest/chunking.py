"""Section-aware chunking: the document's sections (`ingest.markdown`), then a size limit.

Every chunk carries its source, document title, work and full heading path, is cut
between units (bullets, sentences, table rows, whole code blocks) rather than inside one,
and has an id derived from its source, section, place and content, so re-ingesting
unchanged text yields the same ids.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

from assistant.embeddings.base import Passage
from assistant.text import SEP, short_name
from ingest.loaders import SourceDocument
from ingest.markdown import Section
from ingest.units import Unit, addresses_assistant, units_of


@dataclass
class Chunk:
    id: str
    source: str
    title: str
    section: str
    text: str
    order: int
    units: list[dict] = field(default_factory=list)  # {"text": display, "raw", "kind"}
    preview: bool = False  # announces content the corpus lacks: never evidence
    digest: str = ""  # hash of the whole source file
    origin: str = ""  # absolute path of the source file
    work: str = ""  # the title of the guide the page is one file of ("" for an article)

    @property
    def embed_text(self) -> str:
        return f"{self.section or self.title}\n{self.text}"

    @property
    def passage(self) -> Passage:
        """What is embedded: the chunk under its heading, with each unit's span (the
        text is its units' raw texts, one per line)."""
        spans, at = [], len(self.embed_text) - len(self.text)
        for unit in self.units:
            spans.append((at, at + len(unit["raw"])))
            at += len(unit["raw"]) + 1
        return Passage(self.embed_text, tuple(spans), tuple(u["text"] for u in self.units))


class Chunked(NamedTuple):
    chunks: list[Chunk]
    kept_out: list[str]  # passages that speak to the assistant: in no chunk, never evidence
    sections: int = 0  # sections with text
    tables: int = 0
    nav: int = 0  # link lists, tables of contents, badges: read, never evidence


@cache
def generic_headings(prompts_dir: Path) -> frozenset[str]:
    path = prompts_dir / "extractive" / "generic_headings.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return frozenset(ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#"))


LABEL_CHARS = 60  # a heading longer than this, written as a call, is labelled by its name
_SIGNATURE = re.compile(r"^(`?)([\w.$:#]+)\s*[<(]")


def _label_name(heading: str) -> str:
    """A long heading written as a signature ("fastify.onRequestHookHandler< RawServer,
    …>(request: …): Promise<unknown> | void") names its subject by the name it declares:
    the rest is typing that every line of the section would otherwise repeat."""
    if len(heading) <= LABEL_CHARS or not (m := _SIGNATURE.match(heading)):
        return heading
    return f"{m.group(1)}{m.group(2)}{m.group(1)}"


def section_label(path: list[str], title: str, generic: frozenset[str]) -> tuple[str, str]:
    """The subject an answer sentence from this section is about, and the section's kind."""
    if not path:
        return title, "part"
    path = [*path[:-2], *map(_label_name, path[-2:])]
    last = path[-1]
    if last.lower() in generic:  # "Introduction" says nothing without what it introduces
        return f"{short_name(path[-2]) if len(path) > 1 else title} — {last}", "generic"
    if len(path) == 1:
        return short_name(path[0]), "part"
    return last, "named"


def _mentions(text: str, label: str) -> bool:
    """Does the unit name the label's subject ('Micronaut / Quarkus': either will do)?"""
    subject = label.split(" — ")[0]
    names = [n.strip() for n in subject.split(" / ") if n.strip()]
    return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.I) for n in names)


def _display(unit: Unit, label: str, kind: str) -> str:
    """Prefix the label unless the unit already names its subject (code never: it is
    shown as a block)."""
    if unit.kind == "code":
        return unit.text
    if unit.kind != "step" and (
        _mentions(unit.text, label) or (unit.self_subject and kind in {"part", "generic"})
    ):
        return unit.text
    return f"**{label}** — {unit.text}"


def page_title(sections: list[Section], title: str, work: str) -> str:
    """A page whose first heading only repeats its work's name, with no text under it,
    is titled by the heading that follows (every page of a guide opening "Fastify")."""
    if not work or title != work:
        return title
    headed = [s for s in sections if s.path]
    if len(headed) > 1 and headed[0].path[-1] == title and not headed[0].blocks:
        return headed[1].path[-1]
    return title


def section_paths(sections: list[Section], title: str) -> list[list[str]]:
    """Each section's heading path without the document's own title heading when it is
    the top level (a page `# Routes`), and without empty banner headings above the title
    (a page opening `<h1>Fastify</h1>` then `## Routes` is the page "Routes")."""
    headed = [s for s in sections if s.path]
    if not headed:
        return [s.path for s in sections]
    highest = min(lv for s in headed for lv in s.levels)
    tops = [s for s in headed if len(s.path) == 1 and s.levels[0] == highest]
    # The title as written, else a single top heading opening the text (its title under
    # another wording, as front matter often gives).
    top = next((s for s in headed if s.path[-1] == title), None)
    if top is None and len(tops) == 1 and tops[0] is headed[0]:
        top = tops[0]
    if top is None:
        return [s.path for s in sections]
    drop = len(top.path) if top.levels[-1] == highest else 0
    with_text = {tuple(s.path) for s in sections if s.blocks}
    while drop < len(top.path) - 1 and tuple(top.path[: drop + 1]) not in with_text:
        drop += 1  # a banner: a heading with no text of its own above the title
    prefix = top.path[:drop]
    return [s.path[drop:] if s.path[:drop] == prefix else s.path for s in sections]


def chunk_document(
    doc: SourceDocument, max_chars: int, prompts_dir: Path, work: str = ""
) -> Chunked:
    """The document's chunks, and the passages kept out of them because they give
    orders to the assistant (they are neither quoted, scored, embedded nor shown to an
    LLM)."""
    generic = generic_headings(prompts_dir)
    preview = {str(s).strip().lower() for s in doc.meta.get("preview_sections") or []}
    chunks: list[Chunk] = []
    kept_out: list[str] = []
    seen: dict[str, int] = {}
    sections = doc.sections
    title = page_title(sections, doc.title, work)
    counts = {"sections": 0, "tables": 0, "nav": 0}
    for part, path in zip(sections, section_paths(sections, title), strict=True):
        if not part.blocks:
            continue
        counts["sections"] += 1
        counts["tables"] += sum(b.kind == "table" for b in part.blocks)
        counts["nav"] += sum(b.kind == "nav" for b in part.blocks)
        section = SEP.join(path) or title
        label, kind = section_label(path, title, generic)
        units = units_of(part.blocks)
        if addresses_assistant(SEP.join([title, *path])):  # a heading giving orders
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
                    title=title,
                    section=section,
                    text=text,
                    order=len(chunks),
                    units=[
                        {"text": _display(u, label, kind), "raw": u.raw, "kind": u.kind}
                        | ({"warns": True} if u.warns else {})
                        for u in group
                    ],
                    preview=is_preview,
                    origin=doc.origin,
                    digest=doc.digest,
                    work=work,
                )
            )
    return Chunked(chunks, kept_out, **counts)


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
        if unit.kind == "code" and n > max_chars:  # code stays whole, in a chunk of its own
            groups.append([unit])
            continue
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
