"""A small WebSocket client for tests (websocket-client): connect with a token in the header,
the query string or a subprotocol, and read the next message or the close frame."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import websocket

SUBPROTOCOL = "loyalty.notifications.v1"


@dataclass(frozen=True)
class Closed:
    code: int
    reason: str


def socket_url(http_base: str, path: str = "/api/v1/notifications/ws") -> str:
    return http_base.replace("http://", "ws://", 1) + path


def connect(
    url: str,
    token: str | None = None,
    in_query: bool = False,
    timeout: float = 10.0,
    scheme: str = "Bearer",
    as_subprotocol: bool = False,
) -> websocket.WebSocket:
    """Open a socket; a refused handshake raises ``WebSocketBadStatusException``."""
    headers: list[str] = []
    subprotocols: list[str] | None = None
    if token and in_query:
        url = f"{url}{'&' if '?' in url else '?'}access_token={quote(token)}"
    elif token and as_subprotocol:
        subprotocols = [SUBPROTOCOL, f"bearer.{token}"]
    elif token:
        headers.append(f"Authorization: {scheme} {token}")
    return websocket.create_connection(
        url, header=headers, subprotocols=subprotocols, timeout=timeout
    )


def refused_status(url: str, token: str | None = None, in_query: bool = False) -> int:
    """The HTTP status of a handshake that is expected to be refused."""
    try:
        ws = connect(url, token, in_query)
    except websocket.WebSocketBadStatusException as exc:
        return int(exc.status_code)
    ws.close()
    raise AssertionError("the handshake was accepted")


def next_event(ws: websocket.WebSocket, timeout: float = 10.0) -> dict[str, Any] | Closed:
    """The next text message (decoded JSON) or the server's close frame."""
    ws.settimeout(timeout)
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            return Closed(code, data[2:].decode("utf-8", "replace"))
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return dict(json.loads(frame.data))


def expect_quiet(ws: websocket.WebSocket, seconds: float) -> None:
    """Nothing arrives for ``seconds`` (used after a positive check proved delivery works)."""
    try:
        event = next_event(ws, timeout=seconds)
    except websocket.WebSocketTimeoutException:
        return
    raise AssertionError(f"unexpected event: {event}")
