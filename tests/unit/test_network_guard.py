"""The network guard: a connect to anything but loopback is refused (and fails the test even when
the code under test catches the refusal); loopback, `localhost`, Unix sockets and event loops
still work. The guard is pytest-socket's `--allow-hosts` (pyproject's addopts) plus the
`network_guard` fixture of tests/conftest.py."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_socket import SocketConnectBlockedError

# Private and unrouted: without the guard a connect would hang until its timeout or fail as
# unreachable, an OSError either way, never the guard's refusal.
BLACKHOLE = ("10.255.255.1", 9)


@pytest.fixture
def tcp_server() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def round_trip(client: socket.socket, server: socket.socket) -> None:
    peer, _ = server.accept()
    with peer:
        client.sendall(b"ping")
        assert peer.recv(4) == b"ping"


def test_a_non_loopback_address_is_refused(network_guard: list[str]) -> None:
    with socket.socket() as sock:
        sock.settimeout(2)
        with pytest.raises(SocketConnectBlockedError, match=re.escape(BLACKHOLE[0])):
            sock.connect(BLACKHOLE)
    assert network_guard == [repr(BLACKHOLE)]
    network_guard.clear()  # the refusal was the point here: do not fail this test for it


def test_a_host_name_other_than_localhost_is_refused_before_any_lookup(
    network_guard: list[str],
) -> None:
    with socket.socket() as sock:
        sock.settimeout(2)
        with pytest.raises(SocketConnectBlockedError, match=r"example\.com"):
            sock.connect(("example.com", 80))
    assert network_guard == [repr(("example.com", 80))]
    network_guard.clear()


async def test_an_event_loop_connect_is_refused(network_guard: list[str]) -> None:
    with pytest.raises(SocketConnectBlockedError):
        await asyncio.wait_for(asyncio.open_connection(*BLACKHOLE), timeout=2)
    assert network_guard == [repr(BLACKHOLE)]
    network_guard.clear()


def test_a_refusal_the_code_under_test_swallows_is_still_recorded(
    network_guard: list[str],
) -> None:
    outcome: list[BaseException] = []

    def worker() -> None:  # like an upstream client that logs and carries on
        try:
            socket.create_connection(BLACKHOLE, timeout=2).close()
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert [type(e) for e in outcome] == [SocketConnectBlockedError]
    assert network_guard == [repr(BLACKHOLE)]  # left in the list, it would fail this test
    network_guard.clear()


def test_loopback_by_address_and_as_localhost(tcp_server: socket.socket) -> None:
    port = tcp_server.getsockname()[1]
    for host in ("127.0.0.1", "localhost"):
        with socket.create_connection((host, port), timeout=5) as client:
            round_trip(client, tcp_server)


def test_ipv6_loopback() -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as exc:  # a host without IPv6
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with server, socket.create_connection(("::1", server.getsockname()[1]), timeout=5) as client:
        round_trip(client, server)


def test_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.settimeout(5)
        client.connect(path)
        round_trip(client, server)


async def test_event_loop_to_loopback() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), timeout=5) == b"ping"
        writer.close()
        await writer.wait_closed()
