"""ingest.fetch.feed_links: the article URLs of an RSS or Atom feed or of a sitemap, and the
nested sitemaps of a sitemap index. Links are absolute http(s) URLs without fragments, each
once, in the order the feed gives them; anything else is a FetchError.

The real feed is howto.diveintomark.org's Atom feed (2005, CC BY-SA 2.5), as kept in
chardet's test corpus.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from assistant.errors import FetchError
from ingest.fetch import FeedLinks, feed_links, feeds

PAGES = Path(__file__).parent / "pages"
SERIES = "https://backend-notes.example/series/queues/feed.xml"
SITE = "https://backend-notes.example/sitemap.xml"


def read(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_rss_items_give_their_links_in_feed_order_once_each() -> None:
    links = feed_links(read("feed-rss2.xml"), SERIES)
    assert links == FeedLinks(
        articles=[
            "https://backend-notes.example/2024/03/choosing-a-message-queue/",
            "https://backend-notes.example/2024/02/outbox-pattern/",  # relative in the feed
            "https://backend-notes.example/2024/01/why-queues/",  # a permalink guid
        ],
        sitemaps=[],
        title="Backend Notes: Message Queues",
    )


def test_rss_items_without_a_page_or_with_a_non_http_link_are_left_out() -> None:
    articles = feed_links(read("feed-rss2.xml"), SERIES).articles
    assert not any("announcement" in link or link.startswith("mailto:") for link in articles)
    assert all(link.startswith("https://") and "#" not in link for link in articles)


def test_atom_entries_give_their_alternate_link_resolved_against_xml_base() -> None:
    links = feed_links(read("feed-atom.xml"), "https://devops-digest.example/series/caching.atom")
    assert links.articles == [
        "https://devops-digest.example/posts/caching-strategies/",
        "https://devops-digest.example/posts/stampede-protection/",
    ]
    assert links.title == "DevOps Digest — Caching in Practice"
    assert links.sitemaps == []


def test_a_real_atom_feed_gives_its_posts_not_its_enclosures() -> None:
    links = feed_links(
        read("feed-atom-diveintomark.xml"), "http://howto.diveintomark.org/feed/atom/"
    )
    assert links.title == "howto.diveintomark.org"
    assert links.articles == [
        "http://howto.diveintomark.org/remote-mac/",
        "http://howto.diveintomark.org/dvd-backup/",
        "http://howto.diveintomark.org/ipod-porn-conversion-guide/",
        "http://howto.diveintomark.org/ipod-dvd-ripping-guide/",
    ]


def test_an_empty_feed_is_a_feed_with_no_articles() -> None:
    rss = b'<rss version="2.0"><channel><title>Coming soon</title></channel></rss>'
    assert feed_links(rss, SERIES) == FeedLinks(articles=[], sitemaps=[], title="Coming soon")


def test_a_sitemap_gives_its_page_locations_not_its_images_or_alternates() -> None:
    links = feed_links(read("sitemap.xml"), SITE)
    assert links == FeedLinks(
        articles=[
            "https://backend-notes.example/2024/03/choosing-a-message-queue/",
            "https://backend-notes.example/2024/02/outbox-pattern/",  # whitespace around it
            "https://backend-notes.example/2024/01/why-queues/",
        ],
        sitemaps=[],
        title=None,
    )


def test_a_sitemap_index_gives_its_sitemaps_for_the_caller_to_fetch() -> None:
    links = feed_links(read("sitemap-index.xml"), "https://backend-notes.example/sitemap_index.xml")
    assert links.articles == []
    assert links.sitemaps == [
        "https://backend-notes.example/sitemap-posts-2024.xml",
        "https://backend-notes.example/sitemap-posts-2023.xml.gz",
        "https://backend-notes.example/sitemap-pages.xml",  # relative in the index
    ]


@pytest.mark.parametrize(
    "namespace",
    [
        ' xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"',
        ' xmlns="http://www.google.com/schemas/sitemap/0.84"',  # the pre-sitemaps.org one
        "",
    ],
)
def test_sitemaps_are_read_in_their_own_namespace(namespace: str) -> None:
    sitemap = f"<urlset{namespace}><url><loc>https://a.example/post</loc></url></urlset>"
    assert feed_links(sitemap.encode(), SITE).articles == ["https://a.example/post"]


def test_a_gzipped_sitemap_is_unpacked() -> None:
    links = feed_links(gzip.compress(read("sitemap.xml")), SITE + ".gz")
    assert links == feed_links(read("sitemap.xml"), SITE)


def test_a_gzipped_sitemap_is_refused_once_it_unpacks_past_the_limit(monkeypatch) -> None:
    """A small file that unpacks to a huge one (a gzip bomb) is stopped at the limit."""
    monkeypatch.setattr(feeds, "MAX_SITEMAP_BYTES", 10_000)
    bomb = gzip.compress(b"<urlset>" + b" " * 1_000_000 + b"</urlset>")
    assert len(bomb) < 10_000
    with pytest.raises(FetchError, match="larger than 10,000 bytes"):
        feed_links(bomb, SITE + ".gz")


def test_a_damaged_gzip_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match="damaged"):
        feed_links(gzip.compress(read("sitemap.xml"))[:40] + b"\x00" * 40, SITE)


def test_external_entities_are_never_read() -> None:
    """XXE: neither parser opens the file an entity names; a location made of one is dropped."""
    secret = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else ""
    dtd = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    rss = f'{dtd}<rss version="2.0"><channel><title>T&xxe;</title><item><link>https://a.example/&xxe;</link></item></channel></rss>'
    sitemap = f"{dtd}<urlset><url><loc>https://a.example/&xxe;</loc></url><url><loc>https://a.example/ok</loc></url></urlset>"
    for document in (rss, sitemap):
        links = feed_links(document.encode(), SITE)
        assert not secret or all(secret not in link for link in links.articles)
        assert not secret or secret not in (links.title or "")
    assert feed_links(sitemap.encode(), SITE).articles == ["https://a.example/ok"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"just some text, no markup at all",
        b'{"items": [{"url": "https://a.example/post"}]}',
        b'<svg xmlns="http://www.w3.org/2000/svg"><a href="https://a.example/post"/></svg>',
        b"<html><body><p>Hello</p></body></html>",
    ],
    ids=["empty", "text", "json", "other-xml", "html-snippet"],
)
def test_anything_else_is_a_fetch_error_saying_what_was_expected(content: bytes) -> None:
    with pytest.raises(FetchError, match="not an RSS or Atom feed or a sitemap"):
        feed_links(content, SITE)


def test_a_real_html_page_is_not_a_feed() -> None:
    with pytest.raises(FetchError, match="not an RSS or Atom feed or a sitemap") as refused:
        feed_links(
            read("python-logging-howto.html"), "https://docs.python.org/3.11/howto/logging.html"
        )
    assert refused.value.path == "https://docs.python.org/3.11/howto/logging.html"
