"""Which URLs a fetch may reach: http(s) only, no credentials in the URL, and a host whose every
address is public unless the policy allows private ones (the server-side request forgery guard).

The host is resolved once, here; the caller connects to the addresses that were checked, so a
second DNS answer (rebinding) can never send the request somewhere else. Numeric spellings
(`2130706433`, `0x7f.1`, `017700000001`) need no rule of their own: the resolver reads them as
the address they spell, and that address is checked like any other.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from assistant.errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = ("http", "https")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
PRIVATE_HINT = "set STACKGUIDE_FETCH_ALLOW_PRIVATE=true to allow it"

# first match names the refusal: the narrower classes before "private", which covers them all
_CLASSES = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
    ("is_site_local", "a site-local address"),
)


@dataclass(frozen=True)
class Target:
    """A URL that passed the checks, with the addresses its host resolved to."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


def check_url(url: str, *, allow_private: bool) -> Target:
    """The URL's target, or FetchError saying why it may not be fetched."""
    parsed = parse_url(url)
    addresses = resolve(url, parsed)
    if not allow_private:
        for address in addresses:
            if (why := refusal(address)) is not None:
                raise FetchError(url, f"{_named(parsed.host, address)} {why}; {PRIVATE_HINT}")
    return Target(parsed, addresses)


def _named(host: str, address: IPAddress) -> str:
    return f"{address} is" if host == str(address) else f"{host} resolves to {address},"


def parse_url(url: str) -> httpx.URL:
    """An absolute http(s) URL with a host and no user name or password."""
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from exc
    if not scheme:
        raise FetchError(url, "only http and https URLs can be fetched; this one has no scheme")
    if scheme not in SCHEMES:
        raise FetchError(url, f"only http and https URLs can be fetched, not {scheme}:")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from exc
    if parsed.userinfo:
        raise FetchError(url, "URLs holding a user name or password are refused")
    if not parsed.raw_host:
        raise FetchError(url, "the URL has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise FetchError(url, f"port {parsed.port} is not a valid port")
    return parsed.copy_with(fragment=None)


def resolve(url: str, parsed: httpx.URL) -> tuple[IPAddress, ...]:
    """Every address the host resolves to, in the resolver's order, without repeats."""
    host = parsed.raw_host.decode("ascii")
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchError(url, f"the host {parsed.host} could not be resolved") from exc
    addresses = dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos)
    if not addresses:
        raise FetchError(url, f"the host {parsed.host} could not be resolved")
    return tuple(addresses)


def refusal(address: IPAddress) -> str | None:
    """Why an address is not public (None when it is). An IPv6 address that carries an IPv4
    one is judged by what it reaches: a mapped or NAT64 address is its IPv4 address; 6to4 and
    Teredo addresses must be public on both counts."""
    for candidate in _reached(address):
        for attribute, why in _CLASSES:
            if getattr(candidate, attribute, False):
                return why
        if not candidate.is_global:
            return "not a public address"
    return None


def _reached(address: IPAddress) -> list[IPAddress]:
    if not isinstance(address, ipaddress.IPv6Address):
        return [address]
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    tunnelled = [address.sixtofour, *(address.teredo or ())]
    return [address, *(ipv4 for ipv4 in tunnelled if ipv4 is not None)]
