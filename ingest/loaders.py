"""Read a file into a `SourceDocument`: Markdown, plain text, HTML and PDF.

Each loader returns Markdown (HTML through `ingest.html`), which `ingest.markdown` reads
into sections.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from assistant.errors import IngestError
from assistant.text import CONTROLS, encodable
from ingest.markdown import Section, parse

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}


@dataclass
class SourceDocument:
    source: str  # the name citations show ('corpus/x.md')
    title: str
    text: str  # Markdown body (front matter removed)
    meta: dict = field(default_factory=dict)
    digest: str = ""  # hash of the raw bytes: unchanged files do no work
    origin: str = ""  # absolute path: identifies the file across runs

    @cached_property
    def sections(self) -> list[Section]:
        """The text read into sections, once: the title and the chunks both need them."""
        return parse(self.text)


def load(path: Path, source: str, *, origin: str | None = None) -> SourceDocument:
    """Load one file or raise `IngestError` with the reason it cannot be read. `origin`
    is what identifies it across runs: its absolute path unless the caller names another
    (a fetched article's URL)."""
    origin = origin or str(path.absolute())
    if not encodable(origin):  # the index stores it, and ids hash it, as UTF-8
        where = "file name" if not encodable(path.name) else "folder's name"
        raise IngestError(source, f"the {where} is not valid UTF-8: rename it")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IngestError(source, f"cannot read file ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise IngestError(source, "file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, title = _pdf(raw, source), ""
    else:
        text = _decode(raw, source)
        title = ""
        if suffix in {".html", ".htm"}:
            text, title = _html(text)
    meta: dict = {}
    if suffix in {".md", ".markdown"}:
        meta, text = front_matter(text, source)
    # terminal escapes and the like are never content, in the text or its front matter
    text = CONTROLS.sub("", text)
    meta = {k: CONTROLS.sub("", v) if isinstance(v, str) else v for k, v in meta.items()}
    if not text.strip():
        raise IngestError(source, "no text could be extracted")
    doc = SourceDocument(source=source, title="", text=text, meta=meta, digest=digest,
                         origin=origin)  # fmt: skip
    heading = next((s.path[-1] for s in doc.sections if s.path), "")
    doc.title = str(meta.get("title") or title or heading or path.stem).strip()
    return doc


def _decode(raw: bytes, source: str) -> str:
    if b"\x00" in raw[:8192]:
        raise IngestError(source, "binary content, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(source, f"not valid UTF-8 text (byte {exc.start})") from exc


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def front_matter(text: str, source: str) -> tuple[dict, str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        # Aliases let a few lines expand into an enormous value: front matter needs none.
        if any(isinstance(t, yaml.AliasToken) for t in yaml.scan(m.group(1))):
            raise IngestError(source, "front matter uses YAML aliases (*name): not supported")
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise IngestError(source, f"bad front matter: {exc}") from exc
    except RecursionError:
        raise IngestError(source, "front matter nested too deeply") from None
    if not isinstance(meta, dict):
        raise IngestError(source, "front matter is not a mapping")
    preview = meta.get("preview_sections")
    if isinstance(preview, str):
        meta["preview_sections"] = [preview]
    elif preview is not None and not (
        isinstance(preview, list) and all(isinstance(p, str) for p in preview)
    ):
        raise IngestError(source, "front matter `preview_sections` must be a list of headings")
    return meta, text[m.end() :]


# Text extraction runs every drawing command of a page: bound the commands read, per page
# and per file, so a small file cannot keep a worker busy for minutes.
PDF_PAGE_BYTES = 4_000_000
PDF_FILE_BYTES = 40_000_000


def _pdf(raw: bytes, source: str) -> str:
    import io

    from pypdf import PdfReader

    pages, total = [], 0
    try:
        reader = PdfReader(io.BytesIO(raw))
        for n, page in enumerate(reader.pages, start=1):
            contents = page.get_contents()
            size = len(contents.get_data()) if contents is not None else 0
            total += size
            if size > PDF_PAGE_BYTES or total > PDF_FILE_BYTES:
                raise IngestError(source, f"PDF page {n} has too many drawing commands to read "
                                  f"({total // 1_000_000} MB so far)")  # fmt: skip
            pages.append(page.extract_text() or "")
    except IngestError:
        raise
    except Exception as exc:  # pypdf raises many kinds on malformed files (loops, bad refs)
        raise IngestError(source, f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _html(text: str) -> tuple[str, str]:
    from ingest.html import html_to_markdown

    return html_to_markdown(text)
