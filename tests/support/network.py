"""The one network guard: every test may reach loopback only, and a test can see what it tried.

Autouse (through the plugin): any attempt to resolve or reach a host other than loopback fails
with `NetworkBlocked` and is recorded in the `network_guard` fixture's `attempts`, whatever path
the request took (httpx, which respx mocks; httpx2 or raw sockets, which it does not). Not an
OSError, so no client mistakes it for a connection failure and retries it. A test that provokes
an attempt on purpose clears `attempts`; any attempt left at teardown fails the test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


class NetworkBlocked(RuntimeError):
    """A test tried to reach a non-loopback address."""


@dataclass
class NetworkGuard:
    attempts: list[str] = field(default_factory=list)


def is_loopback_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def check(address: Any) -> None:
        if isinstance(address, (str, bytes)):  # AF_UNIX path: local by construction
            return
        if isinstance(address, tuple) and address and is_loopback_host(address[0]):
            return
        guard.attempts.append(f"connect {address!r}")
        raise NetworkBlocked(f"test tried to reach {address!r}; only loopback is allowed in tests")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        check(address)
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        # A DNS lookup of a remote name is already a network access.
        if host is not None and not is_loopback_host(host):
            guard.attempts.append(f"getaddrinfo {host!r}")
            raise NetworkBlocked(f"test tried to resolve {host!r}; only loopback is allowed in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield guard
    assert not guard.attempts, f"a test tried to reach the network: {guard.attempts}"
