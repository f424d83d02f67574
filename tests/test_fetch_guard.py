"""ingest.fetch.fetch: a GET of a URL a user hands in, guarded. Only http(s), no credentials,
no private / loopback / link-local / multicast / unspecified / reserved address however it is
spelled (unless the policy allows private ones), the connection made to the address that was
checked, every redirect checked again, the body capped while it streams, the whole exchange
bounded in time, HTTP errors recognisable by status, and conditional GETs answered by 304.

A real HTTP server on 127.0.0.1 answers. To stand for a public web site, a fake name resolves
to a public address and the socket layer carries that one address to the local server: the
guard's own resolution, checks and pinning all run as they would on the internet.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.errors import FetchError, IngestError
from ingest.fetch import FetchPolicy, fetch
from tests.helpers.network import PUBLIC_IP, Network, public_names

PAGES = Path(__file__).parent / "pages"
PYDOC_PAGE = PAGES / "python-logging-howto.html"
PUBLIC_NAME = "blog.example"
OTHER_NAME = "other.example"
LOCAL = FetchPolicy(allow_private=True)
GUARDED = FetchPolicy()

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Server:
    port: int
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", **headers: str):
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    if "Content_Length" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def serving(tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """A threaded HTTP(S) server on an ephemeral 127.0.0.1 port, stopped on exit; a route sees
    the server as `handler.state` (its log, its stop event)."""
    state = Server(0, {})

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.state = state
            state.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            route = state.routes.get(self.path)
            if route is None:
                _answer(self, 404, b"no such page")
            else:
                route(self)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


PAGE = b"<html><head><title>Hello</title></head><body><p>Hello, reader.</p></body></html>"
ETAG = '"v1"'
LAST_MODIFIED = "Wed, 01 Jan 2025 10:00:00 GMT"


def page(handler: BaseHTTPRequestHandler) -> None:
    if handler.headers.get("If-None-Match") == ETAG or (
        handler.headers.get("If-Modified-Since") == LAST_MODIFIED
    ):
        _answer(handler, 304, ETag=ETAG)
        return
    _answer(
        handler,
        200,
        PAGE,
        Content_Type="text/html; charset=utf-8",
        ETag=ETAG,
        Last_Modified=LAST_MODIFIED,
    )


def redirect_to(location: str, status: int = 302) -> Route:
    return lambda handler: _answer(handler, status, Location=location)


def endless(handler: BaseHTTPRequestHandler, *, pause: float = 0.0, declared: int | None = None):
    """Streams until the client hangs up, pausing between chunks; it gives up (and ends the
    body) after 10 MB or 5 s, so a guard that fails to stop it fails the test, not the run."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    if declared is not None:
        handler.send_header("Content-Length", str(declared))
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"x" * (1 if pause else 65536)
    give_up = time.monotonic() + 5
    sent = 0
    try:
        while sent < 10_000_000 and time.monotonic() < give_up:
            if state_of(handler).stopping.wait(pause):
                return
            handler.wfile.write(chunk)
            handler.wfile.flush()
            sent += len(chunk)
    except OSError:
        pass  # the client hung up: what a refusal does


def state_of(handler: BaseHTTPRequestHandler) -> Server:
    return handler.state  # type: ignore[attr-defined]


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """blog.example and other.example resolve to a public address, and connecting there reaches
    127.0.0.1 (same port); everything else resolves and connects as usual (loopback only)."""
    return public_names(monkeypatch, {PUBLIC_NAME: PUBLIC_IP, OTHER_NAME: PUBLIC_IP})


# --- refused before any connection -------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://ftp.example.org/pub/file.txt",
        "data:text/html,<h1>hi</h1>",
        "gopher://example.org/1",
        "javascript:alert(1)",
        "example.org/no-scheme",
    ],
)
def test_only_http_and_https_urls_are_fetched(url: str, network: Network) -> None:
    with pytest.raises(FetchError, match="only http and https") as refused:
        fetch(url, LOCAL)
    assert refused.value.status is None
    assert network.connects == []


@pytest.mark.parametrize(
    "url", ["http://user:secret@blog.example/", "https://token@blog.example/post"]
)
def test_urls_with_credentials_are_refused(url: str, network: Network) -> None:
    with pytest.raises(FetchError, match="user name or password"):
        fetch(url, LOCAL)
    assert network.lookups == [] and network.connects == []


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://2130706433/", "loopback"),  # decimal 127.0.0.1
        ("http://0x7f.1/", "loopback"),  # hex, short form
        ("http://017700000001/", "loopback"),  # octal
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped IPv6
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://240.0.0.1/", "private|reserved"),
    ],
)
def test_non_public_addresses_are_refused_however_spelled(
    url: str, why: str, network: Network
) -> None:
    with pytest.raises(FetchError, match=why) as refused:
        fetch(url, GUARDED)
    assert "STACKGUIDE_FETCH_ALLOW_PRIVATE" in refused.value.reason
    assert network.connects == []


def test_a_host_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_IP, port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(FetchError, match=r"resolves to 10\.1\.2\.3, a private address"):
        fetch("http://mixed.example/", GUARDED)


def test_a_host_that_does_not_resolve_is_a_fetch_error(monkeypatch) -> None:
    def getaddrinfo(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(FetchError, match="could not be resolved"):
        fetch("http://nowhere.example/", GUARDED)


def test_a_fetch_error_is_an_ingest_error_whose_message_says_why() -> None:
    with pytest.raises(IngestError) as refused:
        fetch("file:///etc/passwd", GUARDED)
    assert str(refused.value) == (
        "file:///etc/passwd: only http and https URLs can be fetched, not file:"
    )


# --- the local server, refused and allowed -------------------------------------------------


def test_the_local_server_is_refused_without_allow_private(server) -> None:
    server.routes["/page"] = page
    with pytest.raises(FetchError, match="loopback"):
        fetch(server.url("/page"), GUARDED)
    assert server.seen == []


def test_with_allow_private_the_local_server_is_fetched(server) -> None:
    server.routes["/page"] = page
    got = fetch(server.url("/page"), LOCAL)
    assert (got.status, got.content, got.content_type) == (200, PAGE, "text/html")
    assert (got.etag, got.last_modified) == (ETAG, LAST_MODIFIED)
    assert not got.not_modified
    assert got.url == server.url("/page")
    headers = server.seen[0][1]
    assert headers["user-agent"] == LOCAL.user_agent
    assert headers["host"] == f"127.0.0.1:{server.port}"


def test_a_real_page_arrives_byte_for_byte(server) -> None:
    body = PYDOC_PAGE.read_bytes()
    server.routes["/howto/logging.html"] = lambda h: _answer(h, 200, body, Content_Type="text/html")
    got = fetch(server.url("/howto/logging.html"), LOCAL)
    assert got.content == body


def test_a_public_name_is_fetched_from_the_address_that_was_checked(
    server, network: Network
) -> None:
    """One lookup, and the socket goes to its answer: a rebinding resolver never gets asked
    a second time, so it cannot swap in a private address after the check."""
    server.routes["/page"] = page
    got = fetch(server.url("/page", host=PUBLIC_NAME), GUARDED)
    assert got.content == PAGE
    assert network.lookups.count(PUBLIC_NAME) == 1
    assert network.connects == [(PUBLIC_IP, server.port)]
    assert server.seen[0][1]["host"] == f"{PUBLIC_NAME}:{server.port}"


def test_the_checked_addresses_are_tried_in_turn_until_one_answers(
    server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing listens on 127.0.0.2 (the server is bound to 127.0.0.1): the next one serves."""
    server.routes["/page"] = page

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in ("127.0.0.2", "127.0.0.1")
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    got = fetch(server.url("/page", host="intranet.example"), LOCAL)
    assert got.content == PAGE


# --- redirects -------------------------------------------------------------------------------


def test_a_redirect_to_a_private_address_is_refused(server, network: Network) -> None:
    server.routes["/post"] = redirect_to(server.url("/secret"))  # 127.0.0.1, same server
    server.routes["/secret"] = page
    with pytest.raises(FetchError, match=r"redirected to .*/secret.*loopback") as refused:
        fetch(server.url("/post", host=PUBLIC_NAME), GUARDED)
    assert refused.value.path == server.url("/post", host=PUBLIC_NAME)
    assert server.paths() == ["/post"]


def test_a_redirect_to_another_scheme_is_refused(server, network: Network) -> None:
    server.routes["/post"] = redirect_to("file:///etc/passwd")
    with pytest.raises(FetchError, match=r"redirected to file:.*only http and https"):
        fetch(server.url("/post", host=PUBLIC_NAME), GUARDED)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_followed_relative_locations_included(server, status) -> None:
    server.routes["/old"] = redirect_to("/new/", status)
    server.routes["/new/"] = redirect_to("../page")
    server.routes["/page"] = page
    got = fetch(server.url("/old"), LOCAL)
    assert got.content == PAGE
    assert got.url == server.url("/page")
    assert server.paths() == ["/old", "/new/", "/page"]


def chain(server: Server, hops: int) -> str:
    for n in range(hops):
        server.routes[f"/hop{n}"] = redirect_to(f"/hop{n + 1}")
    server.routes[f"/hop{hops}"] = page
    return server.url("/hop0")


def test_up_to_max_redirects_are_followed(server) -> None:
    url = chain(server, 3)
    assert fetch(url, FetchPolicy(allow_private=True, max_redirects=3)).content == PAGE


def test_more_than_max_redirects_is_refused(server) -> None:
    url = chain(server, 4)
    with pytest.raises(FetchError, match="more than 3 redirects"):
        fetch(url, FetchPolicy(allow_private=True, max_redirects=3))
    assert len(server.seen) == 4


def test_a_redirect_loop_ends_as_too_many_redirects(server) -> None:
    server.routes["/loop"] = redirect_to("/loop")
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(server.url("/loop"), LOCAL)


# --- size and time ---------------------------------------------------------------------------

SMALL = FetchPolicy(allow_private=True, max_bytes=100_000)


def test_a_body_declared_over_the_cap_is_refused_before_reading(server) -> None:
    server.routes["/big"] = lambda h: endless(h, declared=10_000_000)
    with pytest.raises(FetchError, match="larger than the 100,000-byte limit"):
        fetch(server.url("/big"), SMALL)


def test_a_body_without_a_length_is_refused_once_it_passes_the_cap(server) -> None:
    """The server would stream forever: the refusal can only come from counting."""
    server.routes["/stream"] = endless
    with pytest.raises(FetchError, match="larger than the 100,000-byte limit"):
        fetch(server.url("/stream"), SMALL)


def test_a_lying_content_length_is_not_trusted(server) -> None:
    """Declared 1 000 bytes, sent without end: read as the declared 1 000, never more."""
    server.routes["/liar"] = lambda h: endless(h, declared=1_000)
    got = fetch(server.url("/liar"), SMALL)
    assert len(got.content) == 1_000


def test_a_body_at_the_cap_is_accepted(server) -> None:
    body = b"y" * SMALL.max_bytes
    server.routes["/exact"] = lambda h: _answer(h, 200, body, Content_Type="text/plain")
    assert fetch(server.url("/exact"), SMALL).content == body


def test_a_server_that_never_answers_times_out(server) -> None:
    server.routes["/silent"] = lambda h: state_of(h).stopping.wait(30)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        fetch(server.url("/silent"), FetchPolicy(allow_private=True, timeout_s=0.5))
    assert time.monotonic() - started < 3


def test_the_timeout_bounds_the_whole_exchange_not_each_read(server) -> None:
    """A byte every 50 ms never trips a per-read timeout; the whole-request one still ends
    it."""
    server.routes["/trickle"] = lambda h: endless(h, pause=0.05)
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 1 s"):
        fetch(server.url("/trickle"), FetchPolicy(allow_private=True, timeout_s=1.0))
    assert time.monotonic() - started < 3


def test_a_closed_port_is_a_fetch_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connection refused
        with pytest.raises(FetchError, match="could not connect"):
            fetch(f"http://127.0.0.1:{port}/", LOCAL)


# --- HTTP statuses and conditional GETs --------------------------------------------------------


@pytest.mark.parametrize(("status", "phrase"), [(404, "Not Found"), (410, "Gone"), (500, "")])
def test_http_errors_carry_their_status(server, status: int, phrase: str) -> None:
    server.routes["/page"] = lambda h: _answer(h, status, b"sorry")
    with pytest.raises(FetchError, match=f"HTTP {status} {phrase}") as failed:
        fetch(server.url("/page"), LOCAL)
    assert failed.value.status == status


def test_an_unknown_page_is_a_404(server) -> None:
    with pytest.raises(FetchError) as failed:
        fetch(server.url("/nothing-here"), LOCAL)
    assert failed.value.status == 404


def test_an_unchanged_etag_gets_304_and_no_body(server) -> None:
    server.routes["/page"] = page
    first = fetch(server.url("/page"), LOCAL)
    again = fetch(server.url("/page"), LOCAL, etag=first.etag)
    assert again.not_modified
    assert (again.status, again.content) == (304, b"")
    assert server.seen[1][1]["if-none-match"] == ETAG


def test_an_unchanged_last_modified_gets_304_and_keeps_the_validator(server) -> None:
    server.routes["/page"] = page
    again = fetch(server.url("/page"), LOCAL, last_modified=LAST_MODIFIED)
    assert again.not_modified
    assert server.seen[0][1]["if-modified-since"] == LAST_MODIFIED
    assert again.last_modified == LAST_MODIFIED  # not sent back with the 304: the one we had


def test_a_changed_etag_gets_the_page(server) -> None:
    server.routes["/page"] = page
    got = fetch(server.url("/page"), LOCAL, etag='"v0"')
    assert (got.status, got.content, got.etag) == (200, PAGE, ETAG)


def test_a_plain_get_sends_no_validators(server) -> None:
    server.routes["/page"] = page
    fetch(server.url("/page"), LOCAL)
    assert "if-none-match" not in server.seen[0][1]
    assert "if-modified-since" not in server.seen[0][1]


# --- https: the certificate is checked against the name, not the address --------------------


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}"),
            *("-addext", f"subjectAltName=DNS:{name}"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """An HTTPS server with a certificate for blog.example, which the client trusts."""
    cert, key = self_signed(tmp_path, PUBLIC_NAME)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serving(tls=context) as running:
        yield running


def test_https_checks_the_certificate_against_the_host_name(
    tls_server: Server, network: Network
) -> None:
    tls_server.routes["/page"] = page
    got = fetch(f"https://{PUBLIC_NAME}:{tls_server.port}/page", GUARDED)
    assert got.content == PAGE
    assert network.connects == [(PUBLIC_IP, tls_server.port)]


def test_https_refuses_a_certificate_for_another_name(tls_server: Server, network: Network) -> None:
    """other.example reaches the same server, whose certificate names blog.example only."""
    tls_server.routes["/page"] = page
    with pytest.raises(FetchError, match=r"could not connect.*CERTIFICATE_VERIFY_FAILED"):
        fetch(f"https://{OTHER_NAME}:{tls_server.port}/page", GUARDED)
    assert network.connects == [(PUBLIC_IP, tls_server.port)]
    assert tls_server.seen == []


@pytest.mark.parametrize("url", ["http://blog.example:99999/", "http://blog.example:0/"])
def test_a_port_out_of_range_is_refused_before_any_lookup(url: str) -> None:
    from ingest.fetch.addresses import parse_url

    with pytest.raises(FetchError, match="not a valid port"):
        parse_url(url)
