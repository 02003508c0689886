"""The connection under the WebSocket library: whole writes, one at a time, dropped when the
client takes nothing in time (over a local socket pair)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from notification_service.controllers.socket_writes import BoundedWriteSocket

#: more than the kernel buffers of a socket pair hold
LARGE = b"x" * (2 * 1024 * 1024)
CLOSE_FRAME = b"\x88\x02\x03\xe8"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    yield server, client
    server.close()
    client.close()


def read_all(sock: socket.socket, into: bytearray, pause: float = 0.0) -> None:
    while chunk := sock.recv(65536):
        into += chunk
        time.sleep(pause)


def test_a_write_larger_than_the_buffers_is_written_whole_for_a_slow_reader(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(client, received, 0.001))
    reader.start()
    writes = BoundedWriteSocket(server, write_timeout=30)
    assert writes.send(LARGE) == len(LARGE)
    assert writes.send(b"after") == 5
    server.shutdown(socket.SHUT_WR)
    reader.join(30)
    assert bytes(received) == LARGE + b"after"
    assert not writes.dropped


def test_a_client_that_takes_nothing_is_dropped_after_the_write_timeout(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, _client = pair
    writes = BoundedWriteSocket(server, write_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        writes.send(LARGE)
    assert 0.3 <= time.monotonic() - started < 5
    assert writes.dropped
    assert writes.timed_out
    # Nothing more is written (a frame after part of one is garbage to the client)…
    with pytest.raises(BrokenPipeError):
        writes.send(b"next")
    # …and the connection is over for the reader too (its end was shut).
    assert server.recv(10) == b""
    # The socket's own timeout is back to what it was: the library's reader waits as before.
    assert server.gettimeout() is None


def test_writers_wait_for_each_other_and_nothing_follows_a_close_frame(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    writes = BoundedWriteSocket(server, write_timeout=30)
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(client, received, 0.001))
    reader.start()
    pending = threading.Thread(target=writes.send, args=(LARGE,))
    pending.start()
    time.sleep(0.05)  # the large write is under way, waiting for the client
    assert writes.send(b"\x89\x00" + CLOSE_FRAME) == 6  # a pong and a close, in one write
    pending.join(30)
    with pytest.raises(BrokenPipeError):
        writes.send(b"\x81\x01x")
    server.shutdown(socket.SHUT_WR)
    reader.join(30)
    # The close frame came after the whole large write, not inside it, and nothing after it.
    assert bytes(received) == LARGE + b"\x89\x00" + CLOSE_FRAME
    assert not writes.dropped


def test_the_handshake_answer_is_not_taken_for_a_close_frame(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    writes = BoundedWriteSocket(server, write_timeout=5)
    writes.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
    writes.send(b"\x81\x02hi")
    assert client.recv(4096).endswith(b"\x81\x02hi")


def test_a_blocked_write_leaves_the_readers_timeout_alone(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The library's reader shares the socket: a recv it starts while a write waits for room
    must keep the socket's own timeout (none), not the write's, or a quiet client is cut off."""
    server, _client = pair
    writes = BoundedWriteSocket(server, write_timeout=1.0)
    seen: list[float | None] = []

    def write() -> None:
        with contextlib.suppress(OSError):
            writes.send(LARGE)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(0.3)  # the client reads nothing: the write is waiting for room
    seen.append(server.gettimeout())
    writer.join()
    assert writes.timed_out
    assert seen == [None]
