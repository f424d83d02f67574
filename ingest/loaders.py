"""Read a file into a `SourceDocument`: Markdown, plain text, HTML and PDF.

Each loader returns Markdown-ish text so the header splitter can find sections.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

import yaml

from assistant.errors import IngestError
from assistant.text import encodable

SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}


@dataclass
class SourceDocument:
    source: str  # the name citations show ('corpus/x.md')
    title: str
    text: str  # Markdown body (front matter removed)
    meta: dict = field(default_factory=dict)
    digest: str = ""  # hash of the raw bytes: unchanged files do no work
    origin: str = ""  # absolute path: identifies the file across runs


def load(path: Path, source: str) -> SourceDocument:
    """Load one file or raise `IngestError` with the reason it cannot be read."""
    origin = str(path.absolute())
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
        meta, text = _front_matter(text, source)
    if not text.strip():
        raise IngestError(source, "no text could be extracted")
    title = str(meta.get("title") or title or _first_heading(text) or path.stem)
    return SourceDocument(
        source=source, title=title.strip(), text=text, meta=meta, digest=digest,
        origin=origin,
    )  # fmt: skip


def _decode(raw: bytes, source: str) -> str:
    if b"\x00" in raw[:8192]:
        raise IngestError(source, "binary content, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(source, f"not valid UTF-8 text (byte {exc.start})") from exc


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def _front_matter(text: str, source: str) -> tuple[dict, str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise IngestError(source, f"bad front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise IngestError(source, "front matter is not a mapping")
    return meta, text[m.end() :]


def _first_heading(text: str) -> str:
    m = re.search(r"^#\s+(.+)$", text, re.M)
    return m.group(1) if m else ""


def _pdf(raw: bytes, source: str) -> str:
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many kinds on malformed files (loops, bad refs)
        raise IngestError(source, f"unreadable PDF ({type(exc).__name__}: {exc})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


class _HTMLText(HTMLParser):
    """HTML → Markdown-ish text: h1–h3 become headings, block tags become breaks."""

    BLOCK: ClassVar = {"p", "div", "li", "tr", "br", "pre", "section", "article", "dt", "dd"}
    SKIP: ClassVar = {"script", "style", "nav", "head", "noscript", "footer"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in {"h1", "h2", "h3"}:
            self._heading = int(tag[1])
            self.out.append("\n\n" + "#" * self._heading + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in {"h1", "h2", "h3"}:
            self._heading = 0
            self.out.append("\n\n")
        elif tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if data.strip() == "¶":  # Sphinx's header permalink, not text
            return
        if self._in_title:
            self.title += data
        elif not self._skip:
            # Heading text arrives in pieces ("14.4.2." then "Use COPY"): keep them apart.
            self.out.append(data.replace("\n", " ") + " " if self._heading else data)


def _html(text: str) -> tuple[str, str]:
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    body = re.sub(r"[ \t]+", " ", "".join(parser.out))
    body = re.sub(r" +\n", "\n", body)
    body = re.sub(r"\n\s*\n\s*\n+", "\n\n", body)
    return body.strip(), " ".join(parser.title.split())
