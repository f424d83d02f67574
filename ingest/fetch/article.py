"""A web page's main content as a Markdown document: trafilatura finds the article (nav bars,
ads, cookie banners, comment sections, sidebars and footers left out) and writes it as Markdown
with its headings at their level, lists, pipe tables and fenced code; its metadata gives the
title, author and date.

Two things trafilatura takes from the page as is are normalised first, the way a browser reads
them: whitespace outside preformatted text collapses to one space (hard-wrapped HTML source
would otherwise keep its line breaks and indentation, and an indented line after a code block
reads as code), and symbol-only links to an anchor on the same page (the "¶" / "#" permalinks
of headings) are dropped, so they do not end up in headings and titles.

`article_document` is deterministic: the same article gives the same bytes (nothing in it
depends on when it was fetched), so an unchanged page re-ingests for free.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import trafilatura
import yaml
from lxml.html import HtmlElement
from trafilatura.settings import use_config

from assistant.errors import FetchError

PREFORMATTED = frozenset({"pre", "textarea", "script", "style", "listing", "xmp", "plaintext"})
HTML_SPACE = re.compile(r"[ \t\n\r\f]+")  # what HTML collapses; a no-break space stays
WHITESPACE = re.compile(r"\s+")
WORD = re.compile(r"\w")
# Less text than a short paragraph is no article: what trafilatura's fallbacks find on a page
# without one (a nav-only page, a script-only app shell) is its chrome.
MIN_ARTICLE_CHARS = 100
_CONFIG = use_config()
_CONFIG.set("DEFAULT", "MIN_OUTPUT_SIZE", str(MIN_ARTICLE_CHARS))


@dataclass
class Article:
    url: str
    title: str
    author: str | None
    date: str | None  # ISO date, YYYY-MM-DD
    markdown: str  # the body, without front matter


def extract_article(html: bytes | str, url: str) -> Article:
    """The article of a page fetched from `url`; FetchError when there is no article text."""
    tree = trafilatura.load_html(html) if html else None
    if tree is None:
        raise FetchError(url, "the page is not HTML")
    _collapse_whitespace(tree)
    _drop_permalinks(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_formatting=True,
        include_links=False,
        include_images=False,
        config=_CONFIG,
    )
    markdown = _clean(document.text) if document is not None and document.text else ""
    if not markdown:
        raise FetchError(url, "no article text was found on the page")
    title = _one_line(document.title or "") or _leading_heading(markdown) or url
    return Article(
        url=url,
        title=title,
        author=_one_line(document.author or "") or None,
        date=document.date or None,
        markdown=markdown,
    )


def article_document(article: Article, series: str | None = None) -> str:
    """The Markdown file: YAML front matter (title, author, date, url, and the `series` of
    articles it was read with, such as its feed's title; empty fields left out), a
    `# Title` heading unless the body already opens with the title, then the body."""
    fields = {"title": article.title, "author": article.author, "date": article.date}
    fields["url"] = article.url
    fields["series"] = series
    front = yaml.safe_dump(
        {key: value for key, value in fields.items() if value},
        sort_keys=False,
        allow_unicode=True,
        width=10_000,
    )
    body = article.markdown.strip()
    if _same_text(_leading_heading(body), article.title):
        return f"---\n{front}---\n\n{body}\n"
    return f"---\n{front}---\n\n# {_one_line(article.title)}\n\n{body}\n"


def _collapse_whitespace(tree: HtmlElement) -> None:
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        inside_pre = _preformatted(element)
        if element.text and not inside_pre:
            element.text = HTML_SPACE.sub(" ", element.text)
        parent = element.getparent()
        if element.tail and not (parent is not None and _preformatted(parent)):
            element.tail = HTML_SPACE.sub(" ", element.tail)


def _preformatted(element: HtmlElement) -> bool:
    return any(node.tag in PREFORMATTED for node in element.iterancestors()) or (
        element.tag in PREFORMATTED
    )


def _drop_permalinks(tree: HtmlElement) -> None:
    for link in tree.xpath("//a[starts-with(@href, '#')]"):
        if not WORD.search(link.text_content()) and len(link.text_content().strip()) <= 3:
            link.drop_tree()  # keeps the link's tail text


def _clean(markdown: str) -> str:
    """NFC text, as trafilatura's own Markdown output is."""
    return unicodedata.normalize("NFC", markdown).strip()


def _leading_heading(markdown: str) -> str:
    """The text of the ATX heading the Markdown opens with, or ""."""
    first_line = markdown.lstrip().split("\n", 1)[0]
    match = re.fullmatch(r"#{1,6}\s+(.+?)(?:\s+#+)?\s*", first_line)
    return match.group(1) if match else ""


def _same_text(a: str, b: str) -> bool:
    return bool(a) and _one_line(a).casefold() == _one_line(b).casefold()


def _one_line(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()
