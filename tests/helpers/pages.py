"""A web site on 127.0.0.1 for article and feed tests: pages the test sets (and changes),
with ETag / Last-Modified answered like a real server, and a count of full downloads."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    location: str | None = None  # for a redirect


@dataclass
class Site:
    base: str = ""
    pages: dict[str, Page] = field(default_factory=dict)
    downloads: dict[str, int] = field(default_factory=dict)  # full 200 bodies sent, by path

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: str | bytes, **kw) -> str:
        self.pages[path] = Page(body.encode() if isinstance(body, str) else body, **kw)
        return self.url(path)


def article_page(title: str, sections: dict[str, str], *, author: str = "A. Writer") -> str:
    """An article as blogs serve it: the text among navigation, ads, a cookie banner,
    comments and a footer that must not be read as the article."""
    body = "".join(f"<h2>{h}</h2>\n<p>{p}</p>\n" for h, p in sections.items())
    return f"""<!doctype html><html><head><title>{title} | Example Blog</title>
<meta name="author" content="{author}"><meta property="article:published_time" content="2026-11-02">
</head><body>
<nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/about">About</a> <a href="/rss">RSS</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<aside class="ad">Sponsored: try MegaCloud hosting, 50% off this week only!</aside>
<main><article><h1>{title}</h1><p class="byline">By {author}</p>
{body}</article></main>
<section class="comments"><h3>Comments</h3><p>Great post, thanks for sharing!</p></section>
<footer>Copyright 2026 Example Blog. All rights reserved. Privacy policy. Terms.</footer>
</body></html>"""


@contextmanager
def serve_site() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            page = site.pages.get(self.path)
            if page is None:
                self.send_error(404)
                return
            if page.location:
                self.send_response(page.status)
                self.send_header("Location", page.location)
                self.end_headers()
                return
            tag = '"' + hashlib.sha256(page.body).hexdigest()[:16] + '"'
            if page.status == 200 and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.send_header("ETag", tag)
            self.end_headers()
            self.wfile.write(page.body)
            site.downloads[self.path] = site.downloads.get(self.path, 0) + 1

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
