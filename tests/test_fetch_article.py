"""ingest.fetch.extract_article / article_document: a web page's main content as a Markdown
file. Headings keep their level, lists, tables and code blocks survive; nav bars, ads, cookie
banners, comments, sidebars and footers around the article do not; the file opens with YAML
front matter (title, author, date, url) and is byte-identical each time for the same page.

Pages: two hand-made blog posts with all that chrome around them, and a real one, the Python
3.11 Logging HOWTO from Debian's python3.11-doc, with its Sphinx chrome (navigation bars,
sidebar, "¶" permalinks, footer) as installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from assistant.errors import FetchError
from ingest.fetch import Article, article_document, extract_article

PAGES = Path(__file__).parent / "pages"


def read(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# --- reading the Markdown back as a parser does ---------------------------------------------


def tokens(markdown: str) -> list[Token]:
    """CommonMark with GFM tables, children flattened in."""
    parser = MarkdownIt("commonmark").enable("table")
    flat: list[Token] = []
    for token in parser.parse(markdown):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def headings(markdown: str) -> list[tuple[int, str]]:
    toks = tokens(markdown)
    return [
        (int(t.tag[1]), toks[i + 1].content) for i, t in enumerate(toks) if t.type == "heading_open"
    ]


def list_items(markdown: str) -> list[str]:
    toks = tokens(markdown)
    return [toks[i + 2].content for i, t in enumerate(toks) if t.type == "list_item_open"]


def tables(markdown: str) -> list[list[list[str]]]:
    found: list[list[list[str]]] = []
    toks = tokens(markdown)
    for i, t in enumerate(toks):
        if t.type == "table_open":
            found.append([])
        elif t.type == "tr_open":
            found[-1].append([])
        elif t.type in {"th_open", "td_open"}:
            found[-1][-1].append(toks[i + 1].content)
    return found


def code_blocks(markdown: str) -> list[str]:
    return [t.content for t in tokens(markdown) if t.type in {"fence", "code_block"}]


def paragraphs(markdown: str) -> list[str]:
    toks = tokens(markdown)
    return [toks[i + 1].content for i, t in enumerate(toks) if t.type == "paragraph_open"]


# --- the pages and what each must give ---------------------------------------------------------


@dataclass
class Expected:
    page: str
    title: str
    author: str | None
    date: str | None
    headings: list[tuple[int, str]]
    items: list[str]
    table: list[list[str]]  # header row, then the first body row
    code: str  # a piece of a code block, verbatim
    chrome: list[str]  # text around the article, in the page, that must not be in the Markdown


QUEUES = Expected(
    page="blog-choosing-a-message-queue.html",
    title='Choosing a message queue: Kafka, RabbitMQ or "just Postgres"?',
    author="Dana Whitfield",
    date="2024-03-18",
    headings=[
        (1, 'Choosing a message queue: Kafka, RabbitMQ or "just Postgres"?'),
        (2, "What each tool is good at"),
        (3, "Kafka: a replayable log"),
        (3, "RabbitMQ: flexible routing"),
        (2, "Questions to ask before choosing"),
        (2, "A side-by-side comparison"),
        (2, "A minimal Postgres queue"),
        (2, "Conclusion"),
    ],
    items=[
        "Do consumers need to replay old messages?",
        "Is the peak rate above ten thousand messages per second?",
        "Does anyone on the team already run a broker in production?",
    ],
    table=[
        ["Tool", "Model", "Replay", "Operational cost"],
        ["Kafka", "Partitioned log", "Yes, within retention", "High"],
    ],
    code="FROM jobs\nWHERE done_at IS NULL\nORDER BY id\nFOR UPDATE SKIP LOCKED\n",
    chrome=[
        "We use cookies",
        "Accept all cookies",
        "About the editors",
        "Subscribe to the newsletter",
        "Sponsored: Try CloudQueuePro",
        "Share on Twitter",
        "14 comments",
        "never looked back",
        "Leave a reply",
        "Related posts",
        "Redis streams in anger",
        "Learn Kubernetes in 7 days",
        "All rights reserved",
        "Privacy policy",
    ],
)

CACHING = Expected(
    page="cms-caching-strategies.html",
    title="Caching strategies for read-heavy APIs",
    author="Ravi Menon",
    date="2023-11-02",
    headings=[
        (1, "Caching strategies for read-heavy APIs"),
        (2, "Cache-aside"),
        (3, "Invalidation on write"),
        (2, "Read-through and write-through"),
        (2, "Which pattern when"),
        (2, "Cache-aside in Python"),
    ],
    items=[
        "Measure the hit ratio before tuning anything else.",
        "Set a time-to-live on every key, even long-lived ones.",
        "Protect the database from stampedes with request coalescing.",
    ],
    table=[
        ["Pattern", "Consistency", "Best for"],
        ["Cache-aside", "Eventual", "General read-heavy endpoints"],
    ],
    code=(
        "    cached = redis.get(key)\n    if cached is not None:\n"
        "        return json.loads(cached)\n"
    ),
    chrome=[
        "stores cookies on your computer",
        "I agree",
        "Jobs board",
        "Sign in",
        "Get the weekly digest",
        "Join 50,000 engineers",
        "Sponsored by FastCache Cloud",
        "Leave a comment",
        "Memcached consistent hashing",
        "Advertise with us",
        "DevOps Digest Media Ltd",
    ],
)

PYTHON_LOGGING = Expected(
    page="python-logging-howto.html",
    title="Logging HOWTO",
    author=None,
    date=None,  # whatever htmldate reads from the page: not asserted
    headings=[
        (1, "Logging HOWTO"),
        (2, "Basic Logging Tutorial"),
        (3, "When to use logging"),
        (3, "A simple example"),
        (3, "Logging to a file"),
    ],
    items=["Module `logging`"],
    table=[
        ["Task you want to perform", "The best tool for the task"],
        [
            "Display console output for ordinary usage of a command line script or program",
            "`print()`",
        ],
    ],
    code="import logging\nlogging.warning('Watch out!')  # will print a message to the console\n",
    chrome=[
        "Table of Contents",
        "Previous topic",
        "Next topic",
        "This Page",
        "Report a Bug",
        "Show Source",
        "Navigation",
        "Quick search",
        "Copyright",
        "Found a bug",
        "Last updated on",
    ],
)

EXPECTED = [QUEUES, CACHING, PYTHON_LOGGING]
IDS = [e.page for e in EXPECTED]


@pytest.fixture(params=EXPECTED, ids=IDS)
def expected(request: pytest.FixtureRequest) -> Expected:
    return request.param


def extracted(expected: Expected) -> Article:
    return extract_article(read(expected.page), f"https://pages.example/{expected.page}")


# --- structure ---------------------------------------------------------------------------------


def test_headings_keep_their_level_and_their_text(expected: Expected) -> None:
    found = headings(extracted(expected).markdown)
    assert found[: len(expected.headings)] == expected.headings


def test_list_items_survive_as_a_list(expected: Expected) -> None:
    items = list_items(extracted(expected).markdown)
    assert [item for item in expected.items if item in items] == expected.items


def test_tables_survive_as_pipe_tables(expected: Expected) -> None:
    found = tables(extracted(expected).markdown)
    assert any(table[:2] == expected.table for table in found), found


def test_code_blocks_survive_verbatim_as_code(expected: Expected) -> None:
    blocks = code_blocks(extracted(expected).markdown)
    assert any(expected.code in block for block in blocks), blocks


def test_the_chrome_around_the_article_is_left_out(expected: Expected) -> None:
    html = read(expected.page).decode()
    markdown = extracted(expected).markdown
    for text in expected.chrome:
        assert text in html, f"the page should hold {text!r}: the test would prove nothing"
        assert text not in markdown


def test_the_metadata_is_read_from_the_page(expected: Expected) -> None:
    article = extracted(expected)
    assert article.title == expected.title
    assert article.author == expected.author
    if expected.date is not None:
        assert article.date == expected.date
    assert article.url == f"https://pages.example/{expected.page}"


def test_no_html_or_permalink_marks_are_left(expected: Expected) -> None:
    markdown = extracted(expected).markdown
    prose = "\n".join(paragraphs(markdown) + [text for _, text in headings(markdown)])
    for mark in ("¶", "<div", "<span", "<a ", "<script", "&nbsp;", "&amp;"):
        assert mark not in prose


def test_hard_wrapped_html_source_reads_as_one_line_paragraphs() -> None:
    """Sphinx wraps its HTML source at 80 columns; a paragraph is still one paragraph, and no
    line of it is indented (an indented line can read as code)."""
    markdown = extracted(PYTHON_LOGGING).markdown
    opening = next(p for p in paragraphs(markdown) if p.startswith("Logging is a means"))
    assert "\n" not in opening
    assert "some software runs. The software’s developer adds logging calls" in opening
    outside_code = markdown.split("```")[::2]
    assert not any(line.startswith("    ") for part in outside_code for line in part.split("\n"))


def test_a_title_with_its_site_name_is_the_article_title() -> None:
    """<title> says "… – DevOps Digest"; the article's title is its own."""
    assert extracted(CACHING).title == "Caching strategies for read-heavy APIs"


# --- the document ------------------------------------------------------------------------------


def front_matter(document: str) -> tuple[dict, str]:
    assert document.startswith("---\n")
    head, body = document[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_the_document_opens_with_front_matter_that_round_trips(expected: Expected) -> None:
    article = extracted(expected)
    meta, body = front_matter(article_document(article))
    wanted = {"title": article.title, "author": article.author, "date": article.date}
    wanted["url"] = article.url
    assert meta == {key: value for key, value in wanted.items() if value is not None}
    assert list(meta) == [key for key in ("title", "author", "date", "url") if key in meta]
    assert body.strip().startswith(f"# {article.title}")


def test_quotes_and_colons_in_a_title_are_safe_in_front_matter() -> None:
    title = 'Kafka: "exactly once"? It\'s #1 — really: {yes}'
    meta, _ = front_matter(
        article_document(Article("https://a.example/", title, None, None, "Text."))
    )
    assert meta == {"title": title, "url": "https://a.example/"}


def test_missing_fields_are_left_out_of_the_front_matter() -> None:
    document = article_document(Article("https://a.example/p", "T", None, None, "Body text."))
    assert document == "---\ntitle: T\nurl: https://a.example/p\n---\n\n# T\n\nBody text.\n"


def test_the_title_heading_is_added_only_when_the_body_does_not_open_with_it() -> None:
    opens_with_it = Article("https://a.example/p", "Queues", None, None, "# Queues\n\nText.")
    assert article_document(opens_with_it).count("# Queues") == 1
    other_heading = Article("https://a.example/p", "Queues", None, None, "## Intro\n\nText.")
    assert article_document(other_heading).endswith("---\n\n# Queues\n\n## Intro\n\nText.\n")


def test_the_document_is_byte_identical_for_the_same_page(expected: Expected) -> None:
    html = read(expected.page)
    url = f"https://pages.example/{expected.page}"
    first = article_document(extract_article(html, url))
    assert article_document(extract_article(html, url)) == first
    assert article_document(extract_article(html.decode(), url)) == first


def test_the_document_reads_back_with_the_same_structure(expected: Expected) -> None:
    article = extracted(expected)
    _, body = front_matter(article_document(article))
    assert headings(body) == headings(article.markdown)
    assert tables(body) == tables(article.markdown)


# --- no article ----------------------------------------------------------------------------------

ONLY_CHROME = b"""<!DOCTYPE html><html><head><title>Home | Backend Notes</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/archive/">Archive</a></li></ul></nav>
<div class="cookie-banner"><button>Accept all cookies</button></div>
<footer><p>&copy; 2024 Backend Notes</p></footer></body></html>"""
APP_SHELL = b"""<!DOCTYPE html><html><head><title>Dashboard</title>
<script src="/static/js/main.4f3a.js"></script></head><body>
<noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div>
</body></html>"""


@pytest.mark.parametrize(
    "content",
    [ONLY_CHROME, APP_SHELL, b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["chrome", "app-shell", "empty", "png"],
)
def test_a_page_without_article_text_is_a_fetch_error(content: bytes) -> None:
    with pytest.raises(FetchError, match=r"no article text|not HTML") as refused:
        extract_article(content, "https://a.example/")
    assert refused.value.path == "https://a.example/"
