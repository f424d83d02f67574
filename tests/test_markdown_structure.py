"""Documents keep their structure whatever their Markdown dialect: every heading level is a
section, tables keep their columns, code stays whole, navigation is never evidence, and no
markup reaches a unit or a section label."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from assistant.settings import Settings
from assistant.text import SEP, split_sentences
from ingest.chunking import chunk_document
from ingest.loaders import load
from ingest.markdown import parse
from ingest.units import units_of

PROMPTS = Settings().prompts_dir
TAG = re.compile(r"</?(?:a|p|img|br|td|tr|table|div|span|code|b|h\d)\b[^>]*>", re.I)


def chunks(text: str, tmp_path: Path, name: str = "page.md", work: str = ""):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return chunk_document(load(path, f"docs/{name}"), 1200, PROMPTS, work=work)


def units_by_section(text: str, tmp_path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for c in chunks(text, tmp_path).chunks:
        out.setdefault(c.section, []).extend(c.units)
    return out


def test_every_heading_level_is_a_section_with_its_full_path(tmp_path) -> None:
    text = (
        "# Scaling\n\n## Availability\n\n### In numbers\n\n"
        "#### 99.9% availability\n\nDowntime per year: 8h 45m 57s.\n\n"
        "#### 99.99% availability\n\nDowntime per year: 52m 35.7s.\n\n"
        "##### Note\n\n###### Deepest\n\nSix levels down.\n"
    )
    sections = units_by_section(text, tmp_path)
    three = sections[f"Availability{SEP}In numbers{SEP}99.9% availability"]
    four = sections[f"Availability{SEP}In numbers{SEP}99.99% availability"]
    assert [u["raw"] for u in three] == ["Downtime per year: 8h 45m 57s."]
    assert [u["raw"] for u in four] == ["Downtime per year: 52m 35.7s."]
    assert f"Availability{SEP}In numbers{SEP}99.99% availability{SEP}Note{SEP}Deepest" in sections


def test_a_table_row_names_its_columns_and_a_bad_good_pair_stays_a_pair(tmp_path) -> None:
    text = (
        "# Guide\n\n## Options\n\n| Option | Default | Notes |\n|---|---|---|\n"
        "| `bodyLimit` | 1048576 | bytes |\n\n"
        "## Errors\n\n<table>\n<thead><tr><th>Bad</th><th>Good</th></tr></thead>\n"
        "<tbody>\n<tr><td>\n\n```go\nreturn err\n```\n\n</td><td>\n\n"
        '```go\nreturn fmt.Errorf("open: %w", err)\n```\n\n</td></tr>\n</tbody></table>\n'
    )
    sections = units_by_section(text, tmp_path)
    (row,) = sections["Options"]
    assert row["text"] == "`bodyLimit` — Default: 1048576; Notes: bytes."
    (pair,) = sections["Errors"]
    assert pair["kind"] == "code"
    bad, good = pair["text"].index("Bad:"), pair["text"].index("Good:")
    assert bad < pair["text"].index("return err") < good < pair["text"].index("Errorf")


def test_code_blocks_stay_whole_and_keep_their_language(tmp_path) -> None:
    body = "\n".join(f"line_{n} = {n}  # a comment. With a stop." for n in range(60))
    text = f"# Page\n\n## Example\n\nRun this:\n\n```python\n{body}\n```\n"
    units = units_by_section(text, tmp_path)["Example"]
    code = [u for u in units if u["kind"] == "code"]
    assert len(code) == 1 and code[0]["text"].startswith("```python\n")
    assert code[0]["text"].count("line_") == 60  # longer than a chunk, still one unit


def test_navigation_badges_and_images_are_never_units(tmp_path) -> None:
    text = (
        "# Guide\n\n[![CI](https://x/badge.svg)](https://x) [![npm](https://y.svg)](https://y)\n\n"
        '<p align="center"><img src="logo.png"></p>\n\n'
        "## Contents\n\n- [Install](#install)\n- [Usage](#usage)\n\n"
        "## Further reading\n\n- [Ajv custom errors](https://example.com/ajv-errors)\n\n"
        "## Usage\n\nSee [the docs](https://example.com) before you call `listen()`.\n"
    )
    c = chunks(text, tmp_path)
    texts = [u["raw"] for ch in c.chunks for u in ch.units]
    assert texts == ["See the docs before you call `listen()`."]
    assert c.nav == 3


def test_inline_html_and_mkdocs_markup_never_reach_units_or_labels(tmp_path) -> None:
    text = (
        '# Server\n\n## Factory { #factory }\n\n<a id="factory"></a>\n\n'
        "The <code>fastify</code> module exports a factory.<br/>It returns a server.\n\n"
        '!!! tip "Keep it small"\n    Register plugins early.\n\n'
        "/// warning | Careful\nNever block the loop.\n///\n\n"
        "{* ../../docs_src/app.py hl[3] *}\n\n"
        '#### `listen()` <a id="listen"></a>\n\nStarts the server.\n'
    )
    c = chunks(text, tmp_path)
    for ch in c.chunks:
        assert not TAG.search(ch.section) and "{" not in ch.section, ch.section
        for u in ch.units:
            for field in (u["text"], u["raw"]):
                assert not TAG.search(field) and "///" not in field and "{*" not in field, field
    texts = " ".join(u["text"] for ch in c.chunks for u in ch.units)
    assert "Keep it small: Register plugins early." in texts.replace("**", "")
    assert "Careful: Never block the loop." in texts.replace("**", "")
    assert f"Factory{SEP}`listen()`" in {ch.section for ch in c.chunks}


def test_a_banner_heading_repeating_the_guides_name_does_not_title_its_pages(tmp_path) -> None:
    text = '<h1 align="center">Fastify</h1>\n\n## Routes\n\nRoutes map URLs.\n\n### Options\n\nA.\n'
    c = chunks(text, tmp_path, "Routes.md", work="Fastify")
    assert {ch.title for ch in c.chunks} == {"Routes"}
    assert [ch.section for ch in c.chunks] == ["Routes", f"Routes{SEP}Options"]
    assert {ch.work for ch in c.chunks} == {"Fastify"}


def test_a_section_under_a_generic_heading_is_labelled_with_its_document(tmp_path) -> None:
    text = "# Error Handling in Go\n\n## Introduction\n\nErrors are values.\n"
    (chunk,) = chunks(text, tmp_path).chunks
    assert chunk.units[0]["text"].startswith("**Error Handling in Go — Introduction** — ")


def test_text_under_the_title_alone_is_in_the_titles_section(tmp_path) -> None:
    (chunk,) = chunks("# Retries\n\nRetry twice, then page someone.\n", tmp_path).chunks
    assert chunk.section == "Retries"


def test_sentences_are_not_split_after_abbreviations_or_inside_brackets() -> None:
    text = "Use a pooler (e.g. PgBouncer. It helps). Then measure, i.e. run a load test. Done."
    assert split_sentences(text) == [
        "Use a pooler (e.g. PgBouncer. It helps).",
        "Then measure, i.e. run a load test.",
        "Done.",
    ]


def test_list_items_are_bullets_and_their_later_paragraphs_prose() -> None:
    (section,) = [s for s in parse("- First item\n  continues here.\n\n  Second paragraph.\n")]
    units = units_of(section.blocks)
    assert [(u.kind, u.text) for u in units] == [
        ("bullet", "First item continues here."),
        ("sentence", "Second paragraph."),
    ]


@pytest.fixture(scope="module")
def fastify_docs(tmp_path_factory) -> Path:
    """The Markdown docs shipped inside the fastify npm package (a real multi-file guide)."""
    cached = Path.home() / ".cache" / "stackguide" / "corpora" / "fastify-5.6.1"
    if (cached / ".stackguide-corpus-complete").exists():
        return cached / "docs"
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: it fetches the fastify package")
    dest = tmp_path_factory.mktemp("fastify")
    script = Path(__file__).resolve().parent.parent / "evals" / "second_corpus" / "fetch.py"
    proc = subprocess.run(["python3", str(script), "--dest", str(dest / "c")], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    if proc.returncode != 0:
        pytest.skip(f"could not fetch fastify: {proc.stderr[-300:]}")
    return dest / "c" / "docs"


def test_real_fastify_pages_have_clean_units_and_deep_sections(fastify_docs: Path) -> None:
    page = fastify_docs / "Reference" / "Server.md"
    doc = load(page, "fastify/docs/Reference/Server.md")
    c = chunk_document(doc, 1200, PROMPTS, work="Fastify")
    sections = {ch.section for ch in c.chunks}
    assert any(s.count(SEP) >= 2 for s in sections), "h3 under h2 under the page title"
    assert c.nav >= 1, "the page's table of contents is navigation"
    for ch in c.chunks:
        assert not TAG.search(ch.section), ch.section
        for u in ch.units:
            assert not TAG.search(u["text"]) or u["kind"] == "code", u["text"]
    body_limit = [u["text"] for ch in c.chunks if ch.section.endswith("`bodyLimit`")
                  for u in ch.units]  # fmt: skip
    assert any("1048576" in t for t in body_limit)


def test_camel_case_identifiers_are_also_found_by_their_parts() -> None:
    from assistant.text import tokenize

    assert {"maxparamlength", "max", "param", "length"} <= set(tokenize("set `maxParamLength`"))
    assert {"decoraterequest", "decorate", "request"} <= set(tokenize("decorateRequest()"))
    assert set(tokenize("NestJS and GraphQL")) == {"nestj", "graphql"}  # no humps to split


def test_a_one_row_table_is_content_not_column_names(tmp_path) -> None:
    units = units_by_section(
        "# G\n\n## Facts\n\n| Brokers | RabbitMQ, Redis |\n|---|---|\n", tmp_path
    )
    assert [u["text"] for u in units["Facts"]] == ["Brokers — RabbitMQ, Redis"]


def test_a_table_with_an_empty_header_row_names_no_columns(tmp_path) -> None:
    units = units_by_section(
        "# G\n\n## Signals\n\n| | |\n|---|---|\n| `TERM` | Warm shutdown. |\n"
        "| `QUIT` | Cold shutdown. |\n",
        tmp_path,
    )
    assert [u["text"] for u in units["Signals"]] == [
        "`TERM` — Warm shutdown.", "`QUIT` — Cold shutdown."]  # fmt: skip


def test_a_long_signature_heading_labels_its_lines_by_the_name_it_declares(tmp_path) -> None:
    signature = ("fastify.onRequestHookHandler< RawServer, RawRequest, RawReply>(request: "
                 "FastifyRequest, reply: FastifyReply): Promise<unknown> | void")  # fmt: skip
    units = units_by_section(
        f"# G\n\n## Hooks\n\n### {signature}\n\nIt is the first hook to run.\n", tmp_path
    )
    (section,) = units
    assert section.startswith("Hooks › fastify.onRequestHookHandler< RawServer, RawRequest")
    (only,) = units[section]  # the section keeps its heading whole; its label is the name
    assert only["text"] == "**fastify.onRequestHookHandler** — It is the first hook to run."


def test_deep_nesting_never_costs_the_text_after_it(tmp_path) -> None:
    deep = "".join("  " * i + f"- level {i}\n" for i in range(30))
    units = units_by_section(
        f"# G\n\n## Deep\n\n{deep}\nAfter.\n\n## Next\n\nnext text\n", tmp_path
    )
    assert "After." in [u["raw"] for u in units["Deep"]]
    assert [u["raw"] for u in units["Next"]] == ["next text"]


def test_a_heading_ends_an_html_table_left_open(tmp_path) -> None:
    text = "# G\n\n## One\n\n<table>\n<tr><td>cell one</td><td>cell two</td></tr>\n\n## Two\n\nSecond.\n"
    units = units_by_section(text, tmp_path)
    assert [u["raw"] for u in units["Two"]] == ["Second."]


def test_admonitions_blocks_and_attributes_of_every_dialect_read_as_text(tmp_path) -> None:
    text = (
        '# G\n\n## Notes\n\n!!! note "Outer"\n    Outer body.\n\n    !!! tip "Middle"\n'
        "        Middle body.\n\n/// admonition | Careful\n    type: warning\n\nAfter blank.\n"
        "///\n\n:::tip[Custom]\nBracket body.\n:::\n\n//// note\nNested body.\n////\n\n"
        "Lead text {: .lead }\n\n![logo](x.png){ width=300 } See [Go](x){ .md-button }.\n"
    )
    texts = [u["raw"].replace("**", "") for u in units_by_section(text, tmp_path)["Notes"]]
    assert texts == ["Outer: Outer body.", "Middle: Middle body.", "Careful: After blank.",
                     "Custom: Bracket body.", "Note: Nested body.", "Lead text", "See Go."]  # fmt: skip


def test_a_heading_names_its_section_without_its_emphasis(tmp_path) -> None:
    assert "Use active voice" in units_by_section(
        "# G\n\n## Use **active** voice\n\nA.\n", tmp_path
    )


def test_table_rows_read_cleanly_whatever_their_cells(tmp_path) -> None:
    text = (
        "# G\n\n## T\n\n| Key | Meaning |\n|---|---|\n| `*` | Every minute. |\n|  | Empty key |\n"
    )
    assert [u["text"] for u in units_by_section(text, tmp_path)["T"]] == [
        "`*` — Meaning: Every minute.",
        "Meaning: Empty key",
    ]


def test_html_written_in_markdown_keeps_code_and_its_link_bars_are_navigation(tmp_path) -> None:
    text = (
        '# G\n\n## H\n\n<p align="center"><a href="a">Docs</a> | <a href="b">Discord</a></p>\n\n'
        "<pre><code>line one\n  indented two</code></pre>\n"
    )
    c = chunks(text, tmp_path)
    (unit,) = [u for ch in c.chunks for u in ch.units]
    assert unit["kind"] == "code" and "line one\n  indented two" in unit["text"]
    assert c.nav == 1


def test_sentences_keep_emphasis_whole_and_a_stray_bracket_holds_nothing_long() -> None:
    assert split_sentences("**Table 8.2. Numeric Types** The table. Next.") == [
        "**Table 8.2. Numeric Types** The table.",
        "Next.",
    ]
    parts = split_sentences("(" + "word. Next " * 8000)
    assert len(parts) > 7000


def test_front_matter_preview_sections_and_aliases_are_checked(tmp_path) -> None:
    from assistant.errors import IngestError

    page = tmp_path / "a.md"
    page.write_text("---\ntitle: A\npreview_sections: Roadmap\n---\n\n# A\n\n## Roadmap\n\nSoon.\n")
    assert load(page, "a.md").meta["preview_sections"] == ["Roadmap"]
    for bad in ("preview_sections: 5", "a: &x [1]\nb: [*x, *x]"):
        page.write_text(f"---\n{bad}\n---\n\n# A\n\ntext\n")
        with pytest.raises(IngestError):
            load(page, "a.md")
