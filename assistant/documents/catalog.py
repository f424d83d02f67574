"""What the index holds, by document: read from the chunks' own metadata, so it is true
of the index whoever wrote it (this host, another worker, another host)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from assistant.errors import NotFound
from assistant.models import ChunkRecord


@dataclass
class DocumentInfo:
    id: str
    source: str
    title: str
    work: str
    sections: int
    chunks: int
    origin: str  # "file" or "url"
    url: str | None
    ingested_at: str | None
    digest: str
    path: str = field(default="", repr=False)  # where a file lives (never shown to callers)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("path")
        return data


@dataclass
class Section:
    section: str
    text: str


def is_url(origin: str) -> bool:
    return origin.startswith(("http://", "https://"))


class Catalog:
    """The documents of one generation of the index (built once, from its records)."""

    def __init__(self, records: Iterable[ChunkRecord]) -> None:
        self.chunks: dict[str, list[ChunkRecord]] = {}
        for rec in records:
            self.chunks.setdefault(rec.document_id, []).append(rec)
        for group in self.chunks.values():
            group.sort(key=lambda r: r.order)
        self.documents = sorted(
            (_info(group) for group in self.chunks.values()),
            key=lambda d: (d.work.lower(), d.title.lower(), d.source),
        )
        self.by_id = {d.id: d for d in self.documents}

    def get(self, document_id: str) -> DocumentInfo:
        if document_id not in self.by_id:
            raise NotFound(f"no document {document_id!r} in the index")
        return self.by_id[document_id]

    def find(self, name: str) -> DocumentInfo:
        """A document by id, source name or URL (what a CLI user types)."""
        if name in self.by_id:
            return self.by_id[name]
        matches = [d for d in self.documents if name in {d.source, d.url, d.path}]
        if not matches:
            raise NotFound(f"no document {name!r} in the index (see `stackguide sources`)")
        if len(matches) > 1:
            raise NotFound(f"{name!r} names {len(matches)} documents: give the id instead")
        return matches[0]

    def sections(self, document_id: str) -> list[Section]:
        """The document's sections in order, each with its chunks' text."""
        self.get(document_id)
        out: list[Section] = []
        for rec in self.chunks[document_id]:
            if out and out[-1].section == rec.section:
                out[-1].text += "\n\n" + rec.text
            else:
                out.append(Section(rec.section, rec.text))
        return out


def _info(group: list[ChunkRecord]) -> DocumentInfo:
    first = group[0]
    url = first.origin if is_url(first.origin) else None
    stamps = [r.ingested_at for r in group if r.ingested_at]
    return DocumentInfo(
        id=first.document_id,
        source=first.source,
        title=first.title,
        work=first.work,
        sections=len({r.section for r in group}),
        chunks=len(group),
        origin="url" if url else "file",
        url=url,
        ingested_at=max(stamps) if stamps else None,
        digest=first.digest,
        path="" if url else first.origin,
    )
