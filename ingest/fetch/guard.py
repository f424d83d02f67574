"""A guarded HTTP GET for URLs a user hands in: every hop checked (addresses.py), the connection
pinned to the checked address, redirects followed one by one, the body capped while it streams
and the whole exchange bounded in time. Anything refused or failed is a FetchError saying why.

The socket goes to the checked address (transport.py) while the request keeps its URL, so the
Host header and the TLS certificate check use the name. Proxies and .netrc from the environment
are ignored (`trust_env=False`): a proxy would connect wherever it likes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

from assistant.errors import FetchError
from ingest.fetch.addresses import Target, check_url
from ingest.fetch.transport import PinnedTransport

DEFAULT_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class FetchPolicy:
    allow_private: bool = False  # STACKGUIDE_FETCH_ALLOW_PRIVATE
    timeout_s: float = 10.0  # whole request, connect + read, redirects included
    max_bytes: int = 5_000_000  # body cap (decoded), enforced while streaming
    max_redirects: int = 5
    user_agent: str = "StackGuide/0.1 (+article ingest)"


@dataclass
class Fetched:
    url: str  # final URL after redirects
    status: int  # 200 (any 2xx), or 304 when not modified
    content: bytes  # b"" for 304
    content_type: str  # media type only, lower case, e.g. "text/html"
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = DEFAULT_ACCEPT,
) -> Fetched:
    """GET `url` under `policy`; with `etag` / `last_modified` a conditional GET whose 304
    comes back as `Fetched(status=304, content=b"")`."""
    headers = {"User-Agent": policy.user_agent, "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    deadline = time.monotonic() + policy.timeout_s
    current = url
    for _hop in range(policy.max_redirects + 1):
        with _as_hop_of(url, current):
            target = check_url(current, allow_private=policy.allow_private)
            result = _get(target, headers, policy, deadline)
        if isinstance(result, Fetched):
            return _keep_validators(result, etag, last_modified)
        current = result
    raise FetchError(url, f"more than {policy.max_redirects} redirects")


def _keep_validators(fetched: Fetched, etag: str | None, last_modified: str | None) -> Fetched:
    """A 304 may omit the validators: the ones sent still hold, so the caller can store them."""
    if fetched.not_modified:
        fetched.etag = fetched.etag or etag
        fetched.last_modified = fetched.last_modified or last_modified
    return fetched


@contextmanager
def _as_hop_of(url: str, current: str) -> Iterator[None]:
    """A refusal after a redirect names the first URL and says where it was sent."""
    try:
        yield
    except FetchError as exc:
        if current == url:
            raise
        reason = f"redirected to {current}, which failed: {exc.reason}"
        raise FetchError(url, reason, exc.status) from exc


def _get(
    target: Target, headers: dict[str, str], policy: FetchPolicy, deadline: float
) -> Fetched | str:
    """One hop: the answer, or the next URL when it is a redirect. The checked addresses are
    tried in order until one accepts the connection."""
    url = str(target.url)
    failure: Exception | None = None
    for address in target.addresses:
        transport = PinnedTransport(address, deadline)
        with httpx.Client(transport=transport, trust_env=False, timeout=policy.timeout_s) as client:
            try:
                with client.stream("GET", target.url, headers=headers) as response:
                    return _answer(response, target, policy)
            except httpcore.ConnectError as exc:
                failure = exc
            except httpcore.TimeoutException as exc:
                raise _timed_out(url, policy) from exc
            except (httpcore.NetworkError, httpcore.ProtocolError, httpx.HTTPError) as exc:
                raise FetchError(url, f"the transfer failed ({exc})") from exc
    raise FetchError(url, f"could not connect to {target.url.host} ({failure})")


def _answer(response: httpx.Response, target: Target, policy: FetchPolicy) -> Fetched | str:
    url = str(target.url)
    status = response.status_code
    if status in REDIRECTS:
        location = response.headers.get("location")
        if not location:
            raise FetchError(url, f"HTTP {status} redirect without a Location", status)
        return str(target.url.join(location))
    if status != 304 and not 200 <= status < 300:
        raise FetchError(url, f"the server answered HTTP {status} {response.reason_phrase}", status)
    content = b"" if status == 304 else _body(response, url, policy)
    return Fetched(
        url=url,
        status=status,
        content=content,
        content_type=response.headers.get("content-type", "").split(";")[0].strip().lower(),
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


def _body(response: httpx.Response, url: str, policy: FetchPolicy) -> bytes:
    """The decoded body, refused as soon as it passes the cap: a declared length over the cap
    is refused before reading, and a smaller (or missing) one is not trusted."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise _too_large(url, policy)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > policy.max_bytes:
            raise _too_large(url, policy)
        chunks.append(chunk)
    return b"".join(chunks)


def _timed_out(url: str, policy: FetchPolicy) -> FetchError:
    return FetchError(url, f"timed out after {policy.timeout_s:g} s")


def _too_large(url: str, policy: FetchPolicy) -> FetchError:
    return FetchError(url, f"the page is larger than the {policy.max_bytes:,}-byte limit")
