"""ingest.html.html_to_markdown: an HTML page (a manual's or a web article's) read as
Markdown that keeps its structure — headings at their level, lists, definition lists,
code, pipe tables, admonitions — with the page's chrome left out and no HTML left in."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.html import html_to_markdown

PYDOC = Path("/usr/share/doc/python3.11/html")
PGDOC = Path("/usr/share/doc/postgresql-doc-15/html")
CELERYDOC = Path("/usr/share/doc/python-celery-doc/html")


def needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not installed (apt-get install the Debian doc package)")
    return path


def convert(html: str) -> tuple[str, str]:
    """The Markdown as a reader's text: links are written `[text](#)`, with no URL, so the
    Markdown stage can tell navigation from prose; here they read as their text."""
    out, title = html_to_markdown(html)
    return re.sub(r"\[([^\[\]]*)\]\(#\)", r"\1", out), title


def md(html: str) -> str:
    return convert(html)[0]


def tokens(markdown: str) -> list[Token]:
    """The token stream of the ingest's parser settings (CommonMark, HTML on, GFM tables)."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    out: list[Token] = []
    for tok in parser.parse(markdown):
        out.append(tok)
        out.extend(tok.children or [])
    return out


def headings(markdown: str) -> list[tuple[int, str]]:
    toks = tokens(markdown)
    return [
        (int(t.tag[1]), toks[i + 1].content) for i, t in enumerate(toks) if t.type == "heading_open"
    ]


def table_cells(markdown: str) -> list[list[str]]:
    """Rows of the first GFM table as markdown-it reads them."""
    rows: list[list[str]] = []
    toks = tokens(markdown)
    for i, t in enumerate(toks):
        if t.type == "tr_open":
            rows.append([])
        elif t.type in {"th_open", "td_open"}:
            rows[-1].append(toks[i + 1].content)
        elif t.type == "table_close":
            break
    return rows


def prose_text(markdown: str) -> str:
    """What a reader sees outside code: the text tokens, unescaped."""
    return " ".join(t.content for t in tokens(markdown) if t.type == "text")


def assert_clean(markdown: str) -> None:
    """No HTML, entities, permalinks or markup-by-accident outside code."""
    toks = tokens(markdown)
    leaked = [t.content for t in toks if t.type in {"html_block", "html_inline"}]
    assert not leaked, f"HTML reached the Markdown: {leaked[:3]}"
    urls = [t.attrs.get("href") for t in toks if t.type == "link_open"]
    assert set(urls) <= {"#"}, f"links must carry no URL: {urls[:3]}"
    assert not [t for t in toks if t.type in {"em_open", "s_open", "image"}]
    text = prose_text(markdown)
    assert "¶" not in text
    assert not re.search(r"&(?:[a-z]+|#\d+);", text), "an entity was not decoded"
    # A tag pattern may only appear escaped (the page's own text says "<root>").
    outside = re.sub(r"(`+).*?\1", "", re.sub(r"(?ms)^(```+|~~~+).*?^\1", "", markdown))
    assert not re.search(r"(?<!\\)</?[A-Za-z][\w-]*[ />]", outside), outside[:300]


# -- headings ------------------------------------------------------------------------


def test_every_heading_level_becomes_a_markdown_heading_of_that_level() -> None:
    page = "".join(f"<h{n}>Level {n} title</h{n}><p>Body {n}.</p>" for n in range(1, 7))
    out = md(page)
    assert headings(out) == [(n, f"Level {n} title") for n in range(1, 7)]
    assert "###### Level 6 title" in out.splitlines()


def test_heading_text_drops_permalinks_and_keeps_inline_code_and_section_numbers() -> None:
    page = """<div class="body" role="main">
      <h2><span class="section-number">3.1. </span>Using Python<a class="headerlink"
          href="#using" title="Permalink">¶</a></h2>
      <h3>Promise example<span><a class="mark" href="#promise">#</a></span></h3>
      <div class="titlepage"><h3 class="title">14.4.2. Use <code class="command">COPY</code>
      </h3></div></div>"""
    assert headings(md(page)) == [
        (2, "3.1. Using Python"),
        (3, "Promise example"),
        (3, "14.4.2. Use `COPY`"),
    ]


# -- paragraphs and inline text -------------------------------------------------------


def test_paragraphs_links_breaks_and_images() -> None:
    page = """<p>First line<br>second line, see <a href="https://x.example/a">the guide</a>.</p>
      <p><a href="/"><img src="logo.png" alt="Company logo"></a><img src="b.svg" alt="build
      passing"> Badges gone.</p><p>Use <strong>durable</strong> queues and <em>never</em>
      <code>acks=0</code>.</p>"""
    out = md(page)
    assert out.split("\n\n") == [
        "First line second line, see the guide.",
        "Badges gone.",
        "Use **durable** queues and never `acks=0`.",
    ]
    assert "http" not in out and "logo" not in out


def test_text_that_looks_like_markup_is_read_back_as_the_same_text() -> None:
    said = (
        "Use *args and **kwargs, __init__ or <root>/x_y; [see](here) R&D; 1 < 2 "
        "~~not struck~~ `tick`"
    )
    lines = ["# not a heading", "- not an item", "1. not numbered", "> not quoted", "---"]
    page = "".join(f"<p>{s.replace('&', '&amp;').replace('<', '&lt;')}</p>" for s in [said, *lines])
    out = md(page)
    assert_clean(out)
    toks = tokens(out)
    assert [t.type for t in toks if t.type.endswith("_open")] == ["paragraph_open"] * 6
    assert [t.content for t in toks if t.type == "inline"] != []
    assert prose_text(out) == " ".join([said, *lines])


# -- lists -----------------------------------------------------------------------------


def test_lists_keep_markers_numbers_and_nesting() -> None:
    page = """<ul><li>Kafka<ul><li>partitions</li><li>offsets</li></ul></li><li>RabbitMQ</li></ul>
      <ol start="3"><li><p>Third step.</p><pre>make all</pre></li><li>Fourth step.</li></ol>"""
    out = md(page)
    assert "- Kafka\n  - partitions\n  - offsets\n- RabbitMQ" in out
    assert "3. Third step.\n\n   ```\n   make all\n   ```\n\n4. Fourth step." in out
    toks = tokens(out)
    assert [t.type for t in toks if t.type.endswith("list_open")] == [
        "bullet_list_open", "bullet_list_open", "ordered_list_open",
    ]  # fmt: skip
    assert next(t for t in toks if t.type == "ordered_list_open").attrGet("start") == 3


# -- definition lists -----------------------------------------------------------------


API_DL = (  # as Sphinx writes it: no white space between the signature's pieces
    '<dl class="py function"><dt class="sig sig-object py" id="json.dump">'
    '<span class="sig-prename descclassname"><span class="pre">json.</span></span>'
    '<span class="sig-name descname"><span class="pre">dump</span></span>'
    '<span class="sig-paren">(</span><em class="sig-param">obj</em>, '
    '<em class="sig-param">fp</em><span class="sig-paren">)</span>'
    '<a class="headerlink" href="#json.dump">¶</a></dt>'
    "<dd><p>Serialize <em>obj</em> as a JSON formatted stream to <em>fp</em>.</p>\n"
    "<p>If <em>skipkeys</em> is true, keys are skipped.</p>\n"
    '<div class="highlight-python3"><div class="highlight"><pre>json.dump(x, f)</pre></div>'
    "</div></dd></dl>"
)


def test_an_api_entry_is_its_signature_as_code_followed_by_its_description() -> None:
    blocks = md(API_DL).split("\n\n")
    assert blocks[0] == "`json.dump(obj, fp)` — Serialize obj as a JSON formatted stream to fp."
    assert blocks[1] == "If skipkeys is true, keys are skipped."
    assert blocks[2] == "```python3\njson.dump(x, f)\n```"


def test_a_glossary_of_one_paragraph_definitions_is_a_list_of_term_definition_items() -> None:
    page = """<dl class="glossary"><dt id="term-a">broker<a class="headerlink" href="#t">¶</a>
      </dt><dd><p>A server that routes messages.</p></dd>
      <dt><code>acks</code> (<code>integer</code>)</dt><dd>How many replicas confirm.</dd>
      <dt>queue</dt><dt>mailbox</dt><dd><p>Holds messages.</p></dd></dl>"""
    assert md(page) == (
        "- **broker** — A server that routes messages.\n"
        "- `acks` (`integer`) — How many replicas confirm.\n"
        "- **queue**, **mailbox** — Holds messages."
    )


# -- code -------------------------------------------------------------------------------


def test_pre_becomes_a_fenced_block_verbatim_with_its_language() -> None:
    code = 'if a < b:\n    print("<b>&amp;</b>")  # ``` inside\n\n\treturn'
    page = f"""<div class="highlight-python3 notranslate"><div class="highlight"><pre><span></span>
{code.replace("&", "&amp;").replace("<", "&lt;")}
</pre></div></div><pre><code class="language-bash">ls -l | wc -l</code></pre>
<table class="highlighttable"><tr><td class="linenos"><pre>1\n2</pre></td>
<td class="code"><div class="highlight"><pre>x = 1\ny = 2</pre></div></td></tr></table>"""
    out = md(page)
    fences = [t for t in tokens(out) if t.type == "fence"]
    assert [(t.info, t.content) for t in fences] == [
        ("python3", code + "\n"),
        ("bash", "ls -l | wc -l\n"),
        ("", "x = 1\ny = 2\n"),
    ]


# -- tables -----------------------------------------------------------------------------


def test_a_table_is_a_pipe_table_with_a_header_and_one_line_cells() -> None:
    page = """<table><caption>Table 8.2. Numeric Types</caption>
      <thead><tr><th>Name</th><th>Storage   Size</th><th>Range</th></tr></thead>
      <tbody><tr><td><code>smallint</code></td><td>2
      bytes</td><td><p>-32768</p><p>to +32767</p></td></tr>
      <tr><td>a|b</td><td colspan="2">spans two</td></tr></tbody></table>"""
    out = md(page)
    assert out == (
        "Table 8.2. Numeric Types\n\n"
        "| Name | Storage Size | Range |\n"
        "| --- | --- | --- |\n"
        "| `smallint` | 2 bytes | -32768 to +32767 |\n"
        "| a\\|b | spans two |  |"
    )
    assert table_cells(out) == [
        ["Name", "Storage Size", "Range"],
        ["`smallint`", "2 bytes", "-32768 to +32767"],
        ["a|b", "spans two", ""],  # the escaped pipe stays inside its cell
    ]


def test_a_table_without_th_takes_its_first_row_as_header_and_rowspans_repeat() -> None:
    page = """<table><tr><td>Broker</td><td>Mode</td><td>Ordering</td></tr>
      <tr><td rowspan="2">Kafka</td><td>single</td><td>total</td></tr>
      <tr><td>multi</td><td>per partition</td></tr></table>"""
    assert md(page).splitlines() == [
        "| Broker | Mode | Ordering |",
        "| --- | --- | --- |",
        "| Kafka | single | total |",
        "| Kafka | multi | per partition |",
    ]


# -- admonitions -------------------------------------------------------------------------


def test_admonitions_become_paragraphs_led_by_their_title_and_a_warning_one_quote() -> None:
    page = """<div class="admonition note"><p class="admonition-title">Note</p>
      <p>Keys are always strings.</p><p>Second paragraph.</p></div>
      <div class="warning"><h3 class="title">Warning</h3><p>Do not run as root.</p></div>
      <div class="admonition seealso"><ul><li>Module <code>pickle</code></li></ul></div>"""
    out = md(page)
    assert out.split("\n\n") == [
        "Note: Keys are always strings.",
        "Second paragraph.",
        "> Warning: Do not run as root.",  # a quote: every line of a warning warns
        "See also:",
        "- Module `pickle`",
    ]
    assert headings(out) == [], "an admonition's title is not a section"


# -- chrome ------------------------------------------------------------------------------


SPHINX_PAGE = """<!DOCTYPE html><html><head><title>3. Informal Intro &#8212; Python 3.11.2
documentation</title><script>var DOCUMENTATION_OPTIONS = {};</script></head><body>
<div class="related" role="navigation"><h3>Navigation</h3><ul><li><a href="g.html">index</a></li>
<li><a href="n.html">next</a> |</li><li><a href="p.html">previous</a> |</li></ul></div>
<div class="document"><div class="documentwrapper"><div class="bodywrapper">
<div class="body" role="main"><section id="intro"><h1>3. Informal Intro<a class="headerlink"
href="#intro">¶</a></h1><p>Comments start with <code>#</code>.</p></section></div></div></div>
<div class="sphinxsidebar" role="navigation"><h3>Previous topic</h3><p>2. Using</p>
<div id="searchbox" role="search"><form class="search"><input type="text" name="q"></form>
</div></div></div><div class="footer">&copy; Copyright 2001-2023.</div></body></html>"""

WEB_PAGE = """<!doctype html><html><head><title>Choosing a Broker | Example Blog</title>
<style>.a{}</style></head><body>
<div id="cookie-banner" class="cookie-consent"><p>We use cookies.</p><button>OK</button></div>
<header class="site-header"><a href="/"><img src="logo.png" alt="Example"></a><nav><ul>
<li><a href="/blog">Blog</a></li></ul></nav></header>
<div class="breadcrumbs"><a href="/">Home</a> › Blog</div>
<main><article><header><h1>Choosing a Broker</h1></header>
<div class="share-buttons"><a href="#">Tweet</a></div>
<p>Durability beats throughput.</p><div class="ad-slot"><p>Sponsored: CloudQueue!</p></div>
<footer>Tags: kafka</footer></article>
<aside class="related-posts"><h3>Related posts</h3><ul><li><a href="/a">Other</a></li></ul></aside>
<section class="comments"><h2>3 Comments</h2><p>Great post!</p></section></main>
<footer class="site-footer"><p>&copy; 2024 Example Inc.</p></footer></body></html>"""


def test_sphinx_chrome_is_dropped_and_the_body_kept() -> None:
    out, title = convert(SPHINX_PAGE)
    assert out == "# 3. Informal Intro\n\nComments start with `#`."
    assert title == "3. Informal Intro"


def test_web_page_chrome_is_dropped_and_the_article_kept() -> None:
    out, title = convert(WEB_PAGE)
    assert out == "# Choosing a Broker\n\nDurability beats throughput."
    assert title == "Choosing a Broker"


def test_without_a_marked_main_the_page_header_footer_and_link_farms_go() -> None:
    page = """<body><div class="menu-bar"><a href="/1">One</a><a href="/2">Two</a></div>
      <header><h1>Site name</h1></header>
      <div class="sidebar"><h3>Archive</h3><p>2023</p></div>
      <ul><li><a href="/a">A page</a></li><li><a href="/b">B page</a></li><li><a href="/c">C</a>
      </li><li><a href="/d">D</a></li><li><a href="/e">E</a></li></ul>
      <h2>Real title</h2><p>Real text with <a href="/x">one link</a>.</p>
      <div class="navfooter"><table><tr><td><a href="p.html">Prev</a></td><td><a href="n.html">
      Next</a></td></tr></table></div>
      <footer>Footer text</footer></body>"""
    assert md(page) == "## Real title\n\nReal text with one link."


# -- title ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "title"),
    [
        ("<title>json — JSON encoder and decoder — Python 3.11 docs</title><h1>json — JSON "
         "encoder and decoder</h1>", "json — JSON encoder and decoder"),
        ("<title>Making queries | Django documentation | Django</title><h1>Making queries</h1>",
         "Making queries"),
        ("<title>14.4. Populating a Database</title><h2>14.4. Populating a Database</h2>",
         "14.4. Populating a Database"),
        ("<title>Site - Page</title><p>x</p>", "Site - Page"),
        ("<h2>Only a heading</h2><p>x</p>", "Only a heading"),
    ],
)  # fmt: skip
def test_title_is_the_title_tag_without_the_site_name_else_the_first_heading(
    page: str, title: str
) -> None:
    assert convert(page)[1] == title


# -- robustness ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    [
        "", "   ", "<", "<html><head><title>T</title></head><body><script>x()</script></body>",
        "<p>unclosed <b>bold <i>both</p> after</b>", "<table><tr><td colspan=x rowspan=999999>a",
        "<dl><dd>no term</dd><dt>no definition</dt></dl>", "<ol start='-5'><li>a</ol>",
        '<?xml version="1.0" encoding="UTF-8"?><html><body><p>x</p></body></html>',
        "<div>" * 3000 + "deep" + "</div>" * 3000, "\x00\ud800 <p>bad characters</p>",
    ],
)  # fmt: skip
def test_malformed_html_never_raises(page: str) -> None:
    out, title = convert(page)
    assert isinstance(out, str) and isinstance(title, str)
    assert_clean(out)


@pytest.mark.parametrize("depth", [300, 900])  # elements 600 and 1800 deep
def test_deeply_nested_content_is_kept(depth: int) -> None:
    page = "<p>before</p>" + "<div><span>" * depth + "deep" + "</span></div>" * depth
    out = md(page + "<script>hidden()</script><p>after</p>")
    assert [w for w in ("before", "deep", "after", "hidden") if w in out] == [
        "before", "deep", "after",
    ]  # fmt: skip


def test_a_page_without_text_gives_an_empty_body_and_keeps_its_title() -> None:
    page = "<html><head><title>Empty</title></head><body><script>x()</script><img src=a></body>"
    assert convert(page) == ("", "Empty")


def test_random_tag_soup_always_converts_to_clean_markdown() -> None:
    rng = random.Random(14)
    tags = "p div span a b em code pre ul ol li dl dt dd table tr td th h2 h3 blockquote br".split()
    words = ["word", "*", "_x_", "<", "&amp;", "|", "#", "1.", "-", "`", "[a](b)", "¶", "\n"]
    for _ in range(150):
        parts = []
        for _ in range(rng.randint(1, 60)):
            tag = rng.choice(tags)
            parts.append(rng.choice([f"<{tag}>", f"</{tag}>", rng.choice(words) + " "]))
        assert_clean(md("".join(parts)))


# -- real manuals -----------------------------------------------------------------------------


def test_python_tutorial_page_keeps_its_sections_and_drops_sphinx_chrome() -> None:
    path = needs(PYDOC / "tutorial" / "introduction.html")
    out, title = convert(path.read_text(encoding="utf-8"))
    assert title == "3. An Informal Introduction to Python"
    assert headings(out) == [  # and none of the sidebar's ("Table of Contents", "Next topic")
        (1, "3. An Informal Introduction to Python"),
        (2, "3.1. Using Python as a Calculator"),
        (3, "3.1.1. Numbers"),
        (3, "3.1.2. Strings"),
        (3, "3.1.3. Lists"),
        (2, "3.2. First Steps Towards Programming"),
    ]
    for chrome in ("Navigation", "Previous topic", "Quick search", "Show Source", "index"):
        assert chrome not in out.split("\n\n")[0] and f"\n{chrome}\n" not in out
    assert "```python3\n>>> 2 + 2\n4\n" in out
    assert_clean(out)


def test_postgresql_page_keeps_its_table_and_loses_its_navigation() -> None:
    path = needs(PGDOC / "datatype-numeric.html")
    out, title = convert(path.read_text(encoding="utf-8"))
    assert title == "8.1. Numeric Types"
    lines = out.splitlines()
    header = "| Name | Storage Size | Description | Range |"
    assert header in lines
    assert lines[lines.index(header) + 1] == "| --- | --- | --- | --- |"
    assert "| `smallint` | 2 bytes | small-range integer | -32768 to +32767 |" in lines
    tables = [t for t in tokens(out) if t.type == "table_open"]
    assert len(tables) == 1, "the data table is a GFM table; the navigation tables are gone"
    for chrome in ("Prev", "Next", "Home", "Up"):
        assert chrome not in lines, f"navigation link {chrome!r} kept"
    assert_clean(out)


def test_postgresql_headings_keep_their_numbers_and_code() -> None:
    path = needs(PGDOC / "populate.html")
    out = md(path.read_text(encoding="utf-8"))
    assert (2, "14.4. Populating a Database") in headings(out)
    assert (3, "14.4.2. Use `COPY`") in headings(out)
    assert "14.4.1. Disable Autocommit\n" not in out.split("### 14.4.1.")[0], "local TOC gone"


def test_python_api_reference_keeps_signatures_with_their_descriptions() -> None:
    path = needs(PYDOC / "library" / "json.html")
    out = md(path.read_text(encoding="utf-8"))
    para = next(p for p in out.split("\n\n") if p.startswith("`json.dump(obj, fp, *"))
    assert "` — Serialize obj as a JSON formatted stream to fp" in para
    assert "Note: Unlike `pickle` and `marshal`, JSON is not a framed protocol" in out


def test_installed_manuals_convert_without_html_leftovers() -> None:
    roots = [p for p in (PYDOC, PGDOC, CELERYDOC) if p.exists()]
    if not roots:
        pytest.skip("no Debian HTML manual installed (python3.11-doc, postgresql-doc-15…)")
    pages = [p for root in roots for p in sorted(root.rglob("*.html"))[::25]]
    for page in pages:
        out, title = convert(page.read_text(encoding="utf-8", errors="replace"))
        assert title, page
        assert_clean(out)


def test_a_plain_first_row_of_code_or_sentences_is_content_not_column_names() -> None:
    # Sphinx's list of process signals: no <th>, and each row is a signal and its effect.
    page = """<p>The main process overrides:</p><table><tbody>
      <tr><td><p><code>TERM</code></p></td><td><p>Warm shutdown, wait for tasks.</p></td></tr>
      <tr><td><p><code>QUIT</code></p></td><td><p>Cold shutdown, terminate ASAP</p></td></tr>
      </tbody></table>"""
    out = md(page)
    assert table_cells(out) == [["", ""], ["`TERM`", "Warm shutdown, wait for tasks."],
                                ["`QUIT`", "Cold shutdown, terminate ASAP"]]  # fmt: skip
    from ingest.units import split_units

    rows = [u.text for u in split_units(out) if u.kind == "row"]
    assert rows == [
        "`TERM` — Warm shutdown, wait for tasks.",
        "`QUIT` — Cold shutdown, terminate ASAP.",
    ]
