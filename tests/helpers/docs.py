"""Test documents written from scratch: Markdown notes and hand-assembled PDFs."""

from __future__ import annotations

from pathlib import Path


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF 1.4 file from numbered object bodies, with a correct xref table.

    Object n (1-based) is `objects[n - 1]`; object 1 is the catalog (`/Root`).
    """
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def text_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF showing `lines` in Helvetica (ASCII, no parentheses)."""
    ops = " ".join(f"({line}) Tj T*" for line in lines)
    content = f"BT /F1 12 Tf 72 720 Td 14 TL {ops} ET".encode("latin-1")
    return pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def note(i: int) -> str:
    """A small Markdown note with a `##` part, a `###` sub-section and bullets."""
    return (
        f"# Note {i}\n\n"
        f"## Topic {i}\n\n"
        f"- Widget{i} handles request number {i}.\n"
        f"- It stores {i} records per batch.\n\n"
        f"### Detail {i}\n\n"
        f"Gizmo{i} runs every {i} minutes. It logs to file {i}.\n"
    )


def write_notes(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"note{i:02d}.md").write_text(note(i), encoding="utf-8")
    return folder
