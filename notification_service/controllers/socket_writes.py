"""The client's connection as the WebSocket library writes to it: whole, one at a time, bounded.

simple-websocket writes each frame with one ``socket.send``. Under gevent that is a single
non-blocking write, which may take part of a frame and drop the rest, so a client that fell
behind received a corrupted stream; and the library's reader (pongs, pings, its close) writes
beside the session's greenlet (frames) with nothing between them, which gevent refuses when
both wait on the same socket. Behind :class:`BoundedWriteSocket` every write is whole and one
at a time, and a write the client does not take within the write timeout drops the connection:
its buffers are full, so no close frame could reach it, and the kernel frees them at once.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from typing import Any

#: a frame this server sends with the close opcode: FIN set, no RSV bit, opcode 8 (RFC 6455 §5.2)
_CLOSE_FRAME = 0x88
_LINGER_RESET = struct.pack("ii", 1, 0)


class BoundedWriteSocket:
    """A connected socket whose ``send`` writes everything or drops the connection."""

    def __init__(self, sock: Any, write_timeout: float) -> None:
        self._sock = sock
        self._write_timeout = write_timeout
        self._writing = threading.Lock()
        self._close_sent = False
        #: the connection was given up (a write failed or timed out): nothing more is written
        self.dropped = False
        #: the client took nothing for the write timeout
        self.timed_out = False

    def send(self, data: bytes | bytearray | memoryview, flags: int = 0) -> int:
        """Write all of ``data`` within the write timeout, after any write in progress.
        Raises ``BrokenPipeError`` once the connection was dropped or a close frame was sent
        (RFC 6455 §5.5.1: nothing follows it), ``TimeoutError`` when the client took too
        little in time (the connection is then dropped)."""
        # Every holder gives up within the write timeout, so the wait for the lock is bounded.
        with self._writing:
            if self.dropped or self._close_sent:
                raise BrokenPipeError("the connection is closing")
            self._write_all(memoryview(data), flags)
            self._close_sent = _holds_close_frame(data)
        return len(data)

    sendall = send

    def _write_all(self, view: memoryview, flags: int) -> None:
        # Waits for room with select (cooperative under gevent), never by changing the socket's
        # timeout: the library's reader shares the socket, and a recv it started meanwhile would
        # take that timeout and end a quiet, healthy connection.
        deadline = time.monotonic() + self._write_timeout
        try:
            while view:
                remaining = deadline - time.monotonic()
                _, writable, _ = select.select([], [self._sock], [], max(remaining, 0))
                if not writable:
                    self.timed_out = True
                    raise TimeoutError("the client took nothing for the write timeout")
                try:  # as much as there is room for now: the wait is select's
                    view = view[self._sock.send(view, flags | socket.MSG_DONTWAIT) :]
                except BlockingIOError:
                    continue
        except OSError:
            self.drop()
            raise

    def drop(self) -> None:
        """Give the connection up: closing it resets it (RST), which frees the data queued for
        a client that does not read at once, and the library's reader sees it end now."""
        self.dropped = True
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def __getattr__(self, name: str) -> Any:
        # recv, fileno, close…: the library reads through the socket as it is.
        return getattr(self._sock, name)


def _holds_close_frame(data: bytes | bytearray | memoryview) -> bool:
    """Whether ``data`` (whole frames from this server: never masked) holds a close frame."""
    at = 0
    while at + 2 <= len(data):
        first, length = data[at], data[at + 1] & 0x7F
        if first == _CLOSE_FRAME:
            return True
        at += 2
        if length == 126:
            length = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif length == 127:
            length = int.from_bytes(data[at : at + 8], "big")
            at += 8
        at += length
    return False
