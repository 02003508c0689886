"""Ports for the servers the platform runner and the test fixtures start."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from embedded.servers import ServerStartError, _ephemeral_range, free_port
from embedded.services import wait_ready


def test_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    ephemeral_low, ephemeral_high = _ephemeral_range()
    ports = [free_port() for _ in range(300)]

    assert len(set(ports)) == len(ports)
    assert all(not ephemeral_low <= port <= ephemeral_high for port in ports)
    for port in ports[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


@pytest.fixture
def not_http() -> Iterator[int]:
    """A listener that answers every connection with bytes that are not HTTP (as a gRPC
    server does)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def answer() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(
                    b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x04\x00\x40\x00\x00\r\n"
                )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def test_waiting_on_a_port_held_by_something_else_ends_with_the_reason(not_http: int) -> None:
    with pytest.raises(ServerStartError, match="not with HTTP"):
        wait_ready(f"http://127.0.0.1:{not_http}", timeout=1)
