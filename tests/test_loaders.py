"""ingest.loaders.load: every supported format read into Markdown-ish text, every bad
file turned into an IngestError that names the file and says why."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from assistant.errors import IngestError
from ingest.loaders import SUPPORTED, load
from tests.helpers.docs import pdf_bytes, text_pdf


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def load_error(path: Path, source: str | None = None) -> IngestError:
    source = source or f"docs/{path.name}"
    with pytest.raises(IngestError) as info:
        load(path, source)
    err = info.value
    assert err.path == source, f"the error must name the source, got {err.path!r}"
    assert source in str(err), f"the message must name the source: {err}"
    return err


# -- Markdown and text ------------------------------------------------------------------


MD_WITH_FRONT_MATTER = """---
title: "Queues in Practice"
author: Ada Example
series: S1 E4
tags: [queues, brokers]
---

# Queues in Practice (S1 E4)

## Brokers

- Zephyrqueue is a durable broker.
"""


def test_markdown_front_matter_is_read_and_removed_from_the_body(tmp_path: Path) -> None:
    doc = load(write(tmp_path, "q.md", MD_WITH_FRONT_MATTER), "docs/q.md")

    assert doc.source == "docs/q.md"
    assert doc.title == "Queues in Practice", "title comes from the front matter"
    assert doc.meta["author"] == "Ada Example"
    assert doc.meta["series"] == "S1 E4"
    assert doc.meta["tags"] == ["queues", "brokers"]
    assert doc.text.lstrip().startswith("# Queues in Practice (S1 E4)"), doc.text[:80]
    for leaked in ("---", "author:", "series:", "Ada Example"):
        assert leaked not in doc.text, f"front matter leaked into the body: {leaked!r}"
    assert "- Zephyrqueue is a durable broker." in doc.text
    assert re.fullmatch(r"[0-9a-f]{64}", doc.digest), "digest is the sha256 of the bytes"


def test_markdown_without_front_matter_takes_its_title_from_the_first_h1(
    tmp_path: Path,
) -> None:
    doc = load(write(tmp_path, "plain.markdown", "Intro line.\n\n# Real Title\n\nBody.\n"), "p")
    assert doc.title == "Real Title"
    assert doc.meta == {}
    assert doc.text.startswith("Intro line."), "no front matter: the text is kept whole"


def test_markdown_utf8_bom_is_accepted_and_front_matter_still_found(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + MD_WITH_FRONT_MATTER.encode()
    doc = load(write(tmp_path, "bom.md", raw), "docs/bom.md")
    assert doc.title == "Queues in Practice"
    assert "\ufeff" not in doc.text


def test_plain_text_is_loaded_as_is_with_the_file_stem_as_title(tmp_path: Path) -> None:
    body = "Brokerly keeps messages in memory.\nIt loses them on restart.\n"
    doc = load(write(tmp_path, "brokerly-notes.txt", body), "docs/brokerly-notes.txt")
    assert doc.text == body
    assert doc.title == "brokerly-notes"
    assert doc.meta == {}, "front matter is only parsed for Markdown"


def test_same_bytes_give_the_same_digest_and_other_bytes_another(tmp_path: Path) -> None:
    a = load(write(tmp_path, "a.txt", "Same words here."), "a.txt")
    b = load(write(tmp_path, "b.txt", "Same words here."), "b.txt")
    c = load(write(tmp_path, "c.txt", "Same words here!"), "c.txt")
    assert a.digest == b.digest
    assert a.digest != c.digest


# -- HTML -------------------------------------------------------------------------------


HTML = """<!doctype html>
<html>
<head>
  <title>  Stack   Notes
  </title>
  <style>body { color: red; } .secretstyle { display: none; }</style>
  <script>var secretScript = "do not index";</script>
</head>
<body>
  <nav><a href="/">Navigation junk</a></nav>
  <h1>Main Heading</h1>
  <p>Intro paragraph about &amp; stacks.</p>
  <h2>Queues
  and Brokers</h2>
  <ul><li>Zephyrqueue is durable.</li><li>Brokerly is fast.</li></ul>
  <h3>Retention</h3>
  <p>Messages are kept for seven days.</p>
  <script>trackEverything();</script>
  <footer>Footer junk</footer>
</body>
</html>
"""


@pytest.mark.parametrize("suffix", [".html", ".htm"])
def test_html_headings_become_markdown_and_scripts_are_dropped(tmp_path: Path, suffix: str) -> None:
    doc = load(write(tmp_path, f"page{suffix}", HTML), f"docs/page{suffix}")
    lines = doc.text.splitlines()

    assert doc.title == "Stack Notes", "the <title> (whitespace collapsed) is the title"
    assert "# Main Heading" in lines, doc.text
    assert "## Queues and Brokers" in lines, "a heading stays on one line"
    assert "### Retention" in lines, doc.text
    assert "- Zephyrqueue is durable." in lines
    assert "- Brokerly is fast." in lines
    assert "Intro paragraph about & stacks." in doc.text, "entities are decoded"
    assert "Messages are kept for seven days." in doc.text
    for junk in ("secretScript", "secretstyle", "trackEverything", "Navigation", "Footer"):
        assert junk not in doc.text, f"{junk!r} should have been dropped"
    order = [doc.text.index(s) for s in ("# Main", "## Queues", "### Retention")]
    assert order == sorted(order), "headings keep document order"


def test_html_with_only_scripts_has_no_text(tmp_path: Path) -> None:
    page = "<html><head><title>T</title></head><body><script>x()</script></body></html>"
    err = load_error(write(tmp_path, "empty.html", page))
    assert "no text" in err.reason


# -- PDF --------------------------------------------------------------------------------


def test_valid_pdf_text_is_extracted(tmp_path: Path) -> None:
    lines = ["Quokkaflow is a pipeline scheduler.", "It retries failed jobs twice."]
    doc = load(write(tmp_path, "quokka.pdf", text_pdf(lines)), "docs/quokka.pdf")

    for line in lines:
        assert line in doc.text, f"{line!r} not extracted from the PDF: {doc.text!r}"
    assert doc.title == "quokka", "a PDF without headings is titled by its file name"
    assert doc.meta == {}


def test_the_generated_pdf_is_well_formed() -> None:
    """Guard for the fixture above: pypdf reads it in strict mode."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(text_pdf(["Hello PDF."])), strict=True)
    assert len(reader.pages) == 1
    assert "Hello PDF." in reader.pages[0].extract_text()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corrupt_pdf_is_an_ingest_error_about_pdf(tmp_path: Path, seed: int) -> None:
    junk = b"%PDF-1.7\n" + random.Random(seed).randbytes(4000)
    err = load_error(write(tmp_path, "broken.pdf", junk))
    assert "PDF" in err.reason, f"reason should say the PDF is unreadable: {err.reason!r}"


def test_truncated_pdf_is_an_ingest_error(tmp_path: Path) -> None:
    whole = text_pdf(["Quokkaflow is a pipeline scheduler."])
    err = load_error(write(tmp_path, "cut.pdf", whole[: len(whole) // 3]))
    assert "PDF" in err.reason or "no text" in err.reason, err.reason


def test_pdf_without_text_is_an_ingest_error(tmp_path: Path) -> None:
    blank = pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )
    err = load_error(write(tmp_path, "blank.pdf", blank))
    assert "no text" in err.reason


def _self_referencing_catalog() -> bytes:
    # object 1 (the catalog) is a reference to itself
    return pdf_bytes([b"1 0 R"])


def _looping_reference() -> bytes:
    # the text PDF with two bytes changed ("/Type$/Catalog", and a garbled byte after
    # "5 0 obj"): pypdf's recovery then meets object 5 referring to itself
    raw = text_pdf(["Quokkaflow is a pipeline scheduler.", "It retries failed jobs twice."])
    broken = raw.replace(b"/Type /Catalog", b"/Type$/Catalog")
    broken = broken.replace(b"5 0 obj\n<< /Type /Font", b"5 0 obj\xf5<< /Type /Font")
    assert sum(a != b for a, b in zip(raw, broken, strict=True)) == 2, "two bytes changed"
    return broken


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            _self_referencing_catalog,
            id="self-referencing-object",
        ),
        pytest.param(
            _looping_reference,
            id="reference-loop",
        ),
    ],
)
def test_malformed_pdf_structure_is_an_ingest_error(tmp_path: Path, make) -> None:
    path = write(tmp_path, "loop.pdf", make())
    try:
        load(path, "docs/loop.pdf")
    except IngestError as err:
        assert "PDF" in err.reason, err.reason
    except Exception as exc:
        pytest.fail(f"load() let {type(exc).__module__}.{type(exc).__name__} escape: {exc}")
    else:
        pytest.fail("a PDF with a reference loop was accepted")


# -- files that cannot be read as text --------------------------------------------------


def test_binary_file_named_txt_is_an_ingest_error(tmp_path: Path) -> None:
    png_like = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    err = load_error(write(tmp_path, "image.txt", png_like))
    assert "binary" in err.reason, err.reason


def test_text_with_a_nul_byte_is_binary(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "nul.md", b"# Title\n\nHello\x00world\n"))
    assert "binary" in err.reason


def test_invalid_utf8_markdown_is_an_ingest_error(tmp_path: Path) -> None:
    raw = "# Café\n\n".encode() + b"Latin-1 text: caf\xe9 cr\xe8me.\n"
    err = load_error(write(tmp_path, "latin1.md", raw))
    assert "UTF-8" in err.reason, err.reason
    offset = raw.index(b"\xe9")
    assert f"byte {offset}" in err.reason, f"the offending offset is reported: {err.reason}"


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"], ids=["empty", "whitespace"])
@pytest.mark.parametrize("suffix", [".md", ".txt", ".pdf", ".html"])
def test_empty_file_is_an_ingest_error(tmp_path: Path, content: bytes, suffix: str) -> None:
    err = load_error(write(tmp_path, f"empty{suffix}", content))
    assert "empty" in err.reason, err.reason


def test_front_matter_only_markdown_has_no_text(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "meta.md", "---\ntitle: Only meta\n---\n\n"))
    assert "no text" in err.reason


def test_bad_yaml_front_matter_is_an_ingest_error(tmp_path: Path) -> None:
    bad = "---\ntitle: [unclosed\nauthor: x: y: z\n---\n\n# Body\n\nText.\n"
    err = load_error(write(tmp_path, "bad.md", bad))
    assert "front matter" in err.reason, err.reason


def test_front_matter_that_is_not_a_mapping_is_an_ingest_error(tmp_path: Path) -> None:
    err = load_error(write(tmp_path, "list.md", "---\n- a\n- b\n---\n\n# Body\n\nText.\n"))
    assert "not a mapping" in err.reason


def test_unreadable_path_is_an_ingest_error(tmp_path: Path) -> None:
    folder = tmp_path / "folder.md"
    folder.mkdir()  # reading a directory fails with an OSError
    err = load_error(folder)
    assert "cannot read" in err.reason


def test_supported_suffixes() -> None:
    assert {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"} == SUPPORTED


def test_control_characters_never_reach_titles_headings_or_text(tmp_path: Path) -> None:
    f = tmp_path / "esc.md"
    f.write_text('---\ntitle: "Queues\\e]52;c;ZXZpbA==\\a\\e[2J"\n---\n\n'
                 "## Retries\x1b[31m\n\nBack off\x07 and retry.\tTabs stay.\n")  # fmt: skip
    doc = load(f, "esc.md")
    assert doc.title == "Queues]52;c;ZXZpbA==[2J"
    assert [s.path for s in doc.sections if s.path] == [["Retries[31m"]]
    assert "\x1b" not in doc.text and "\x07" not in doc.text and "\tTabs stay." in doc.text


def test_deeply_nested_front_matter_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "deep.md"
    f.write_text("---\ntitle: " + "[" * 5000 + "]" * 5000 + "\n---\n\n# Body\n\ntext\n")
    with pytest.raises(IngestError, match="nested too deeply"):
        load(f, "deep.md")
