"""Public host names that lead to 127.0.0.1, as the fetch guard sees them: each named host
resolves to the address given (a global one, which nothing here ever reaches), and a
socket connecting to PUBLIC_IP reaches 127.0.0.1 on the same port. Every lookup and
connect is recorded; other names resolve as usual (loopback only, by conftest)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import pytest

PUBLIC_IP = "93.184.216.34"  # a global address nothing here ever reaches: carried to 127.0.0.1


@dataclass
class Network:
    names: dict[str, str]  # host → the one address it resolves to (a test may change it)
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)

    @property
    def addresses(self) -> set[str]:
        """Every address a socket connected to."""
        return {address for address, _ in self.connects}


def public_names(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> Network:
    net = Network(dict(names))
    real_getaddrinfo = socket.getaddrinfo
    guarded_connect = socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        net.lookups.append(host)
        if host in net.names:
            family = socket.AF_INET6 if ":" in net.names[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (net.names[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock: socket.socket, address) -> None:
        net.connects.append((address[0], address[1]))
        if address[0] == PUBLIC_IP:
            address = ("127.0.0.1", address[1])
        return guarded_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return net
