"""The article URLs of a feed (RSS, Atom: feedparser) or a sitemap (sitemaps.org urlset or
sitemap index, possibly gzipped: lxml), so a blog series can be ingested from one URL.

Links come back absolute (relative ones resolved against the feed's URL), http(s) only, without
fragments and without repeats, in the order the feed lists them. A sitemap index only names
more sitemaps: the caller fetches those (through the same guard) and reads them in turn.

Both parsers read untrusted XML: lxml without DTDs, entities or network access; feedparser is
given the bytes as a stream, never a string it could take for a URL or a file name.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass, field
from urllib.parse import urldefrag, urljoin, urlsplit

import feedparser
from lxml import etree

from assistant.errors import FetchError

MAX_SITEMAP_BYTES = 50_000_000  # the sitemaps.org limit, uncompressed
# what to send as `fetch(..., accept=FEED_ACCEPT)` for a feed or sitemap URL
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False
)
# a sitemap's root → the entries it lists
_SITEMAP_ENTRIES = {"urlset": "url", "sitemapindex": "sitemap"}


@dataclass
class FeedLinks:
    articles: list[str] = field(default_factory=list)  # absolute http(s) URLs, in feed order
    sitemaps: list[str] = field(default_factory=list)  # nested sitemaps of a sitemap index
    title: str | None = None  # the feed's title (a blog series' name), if any


def feed_links(content: bytes, url: str) -> FeedLinks:
    """The links of the feed or sitemap `content` fetched from `url`; FetchError if it is
    neither."""
    content = _gunzipped(content, url)
    sitemap = _sitemap_links(content, url)
    if sitemap is not None:
        return sitemap
    feed = feedparser.parse(io.BytesIO(content), response_headers={"content-location": url})
    if not feed.get("version"):
        raise FetchError(url, "this is not an RSS or Atom feed or a sitemap")
    links = [_entry_link(entry) for entry in feed.entries]
    return FeedLinks(articles=_absolute(links, url), title=feed.feed.get("title") or None)


def _entry_link(entry: feedparser.FeedParserDict) -> str:
    """The entry's page: its link (Atom: the alternate), else a permalink guid."""
    if entry.get("link"):
        return entry.link
    if entry.get("guidislink") and entry.get("id"):
        return entry.id
    return ""


def _sitemap_links(content: bytes, url: str) -> FeedLinks | None:
    """The locations a sitemap lists, or None when the content is not a sitemap. Entries are
    matched in the root's own namespace (whatever version it is), so extensions such as
    `image:loc` or `xhtml:link` are not taken for pages."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return None
    name = etree.QName(root)
    entry = _SITEMAP_ENTRIES.get(name.localname)
    if entry is None:
        return None
    space = f"{{{name.namespace}}}" if name.namespace else ""
    # a <loc> holding anything but text (an entity left unexpanded, markup) names no page
    found = root.iterfind(f"{space}{entry}/{space}loc")
    locations = [(loc.text or "").strip() for loc in found if len(loc) == 0]
    links = _absolute(locations, url)
    if entry == "sitemap":
        return FeedLinks(sitemaps=links)
    return FeedLinks(articles=links)


def _absolute(links: list[str], base: str) -> list[str]:
    found: dict[str, None] = {}
    for link in links:
        if not link:
            continue
        absolute = urldefrag(urljoin(base, link.strip())).url
        if urlsplit(absolute).scheme in ("http", "https"):
            found.setdefault(absolute)
    return list(found)


def _gunzipped(content: bytes, url: str) -> bytes:
    """A gzipped sitemap (sitemap.xml.gz) unpacked, never past the size limit."""
    if not content.startswith(b"\x1f\x8b"):
        return content
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        unpacked = unpacker.decompress(content, MAX_SITEMAP_BYTES)
    except zlib.error as exc:
        raise FetchError(url, f"the gzipped content is damaged ({exc})") from exc
    if unpacker.unconsumed_tail:
        raise FetchError(url, f"unpacked, it is larger than {MAX_SITEMAP_BYTES:,} bytes")
    if not unpacker.eof:
        raise FetchError(url, "the gzipped content is damaged (cut short)")
    return unpacked
