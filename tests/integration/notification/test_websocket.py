"""The WebSocket on a real gunicorn (gevent) process, fed over real Redis pub/sub, with tokens
from a JWKS served by the test: delivery, every refusal, and every way a socket is closed."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket

from embedded.servers import ManagedProcess, free_port
from embedded.services import SERVICES, redis_url_for, start_web, wait_ready
from notification_service.adapters.redis_live import RedisLiveChannel
from notification_service.application.live import CloseCode, LiveMessage, LiveMessageKind
from notification_service.container import Container
from tests.integration.notification.conftest import REDIS_DB
from tests.support.infra import Infra
from tests.support.tokens import AUDIENCE, ISSUER, JwksServer, TokenMinter
from tests.support.websocket import Closed, connect, next_event, refused_status, socket_url

MAX_SOCKETS = 3
WRITE_TIMEOUT = 3


def notification(notification_id: str, content: dict[str, str]) -> dict[str, object]:
    """A notification as the REST API and the socket show it."""
    return {
        "id": notification_id,
        "type": "PROMOTION",
        "content": content,
        "read": False,
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


@dataclass
class Server:
    url: str
    process: ManagedProcess
    channel: RedisLiveChannel

    @property
    def ws(self) -> str:
        return socket_url(self.url)

    def push(self, user_id: str, notification_id: str) -> None:
        body = notification(notification_id, {"n": notification_id})
        self.channel.publish(
            [LiveMessage(LiveMessageKind.NOTIFICATION, user_id, notification=body)]
        )

    def log(self) -> str:
        assert self.process.log_path is not None
        return self.process.log_path.read_text(errors="replace")


def start_server(
    infra: Infra, jwks: JwksServer, channel: RedisLiveChannel, log_dir: Path
) -> Server:
    spec = next(s for s in SERVICES if s.name == "notification")
    port = free_port()
    env = {
        **os.environ,
        "LOYALTY_PROFILE": "test",
        "LOG_LEVEL": "INFO",
        "PORT": str(port),
        "MONGODB_URL": infra.mongodb_url,
        "MONGODB_DATABASE": f"notifications_test_{infra.run_id}",
        "REDIS_URL": redis_url_for(infra.redis_url, REDIS_DB),
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": AUDIENCE,
        "AUTH_JWKS_URL": jwks.url,
        "LOYALTY__LIVE__MAX_SOCKETS_PER_USER": str(MAX_SOCKETS),
        "LOYALTY__LIVE__PING_INTERVAL_SECONDS": "1",
        "LOYALTY__LIVE__WRITE_TIMEOUT_SECONDS": str(WRITE_TIMEOUT),
    }
    process = start_web(spec, env, log_dir, workers=1)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, timeout=60, process=process)
    except Exception:
        process.stop()
        raise
    return Server(url, process, channel)


@pytest.fixture(scope="module")
def jwks(minter: TokenMinter) -> Iterator[JwksServer]:
    server = JwksServer(minter)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def channel(notification_container: Container) -> RedisLiveChannel:
    return RedisLiveChannel(notification_container.core.redis(), "notifications:live")


@pytest.fixture(scope="module")
def server(
    infra: Infra,
    jwks: JwksServer,
    channel: RedisLiveChannel,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    started = start_server(infra, jwks, channel, tmp_path_factory.mktemp("notification-web"))
    yield started
    started.process.stop()


@pytest.fixture
def player_id() -> str:
    return str(uuid.uuid4())


def test_a_notification_reaches_every_socket_of_its_user_only(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    token = minter.token(player_id)
    by_header = connect(server.ws, token)
    by_query = connect(server.ws, token, in_query=True)
    lower_case = connect(server.ws, token, scheme="bearer")
    other_id = str(uuid.uuid4())
    other = connect(server.ws, minter.token(other_id))
    try:
        server.push(player_id, "for-the-player")
        server.push(other_id, "for-the-other")
        for ws in (by_header, by_query, lower_case):
            assert next_event(ws) == {
                "type": "notification",
                "notification": notification("for-the-player", {"n": "for-the-player"}),
            }
        # Published after the player's, so had it been sent here it would have come first.
        event = next_event(other)
        assert isinstance(event, dict)
        assert event["notification"]["id"] == "for-the-other"
    finally:
        for ws in (by_header, by_query, lower_case, other):
            ws.close()


def test_the_handshake_is_refused_without_a_valid_player_token(
    server: Server, minter: TokenMinter, player_id: str, notification_container: Container
) -> None:
    assert refused_status(server.ws) == 401
    assert refused_status(server.ws, TokenMinter().token(player_id)) == 401
    assert refused_status(server.ws, TokenMinter().token(player_id), in_query=True) == 401
    assert refused_status(server.ws, minter.token(player_id, lifetime=-60)) == 401
    assert refused_status(server.ws, minter.token(player_id, aud="someone-else")) == 401
    assert refused_status(server.ws, minter.token("staff-1", role="staff")) == 403
    assert refused_status(server.ws, minter.token("hotel", role=None, scope="rewards.read")) == 403
    notification_container.core.inactive_users().mark(player_id, True)
    assert refused_status(server.ws, minter.token(player_id)) == 401


def offering_extensions(server: Server, token: str, extensions: str) -> websocket.WebSocket:
    return websocket.create_connection(
        server.ws,
        header=[f"Authorization: Bearer {token}", f"Sec-WebSocket-Extensions: {extensions}"],
        timeout=10,
    )


def test_a_malformed_compression_offer_is_declined_and_the_socket_opens(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    token = minter.token(player_id)
    for extensions in (
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=99",
        "permessage-deflate; client_max_window_bits=+15",
        "permessage-deflate; server_max_window_bitsx=10",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=12",
        "permessage-deflate; foo=bar",
        "permessage-deflate; server_no_context_takeover=1",
    ):
        # RFC 7692 §7: an offer with an unknown or repeated parameter, or an invalid value, is
        # declined; the socket opens without it.
        ws = offering_extensions(server, token, extensions)
        try:
            assert ws.getstatus() == 101, extensions
            assert (ws.getheaders() or {}).get("sec-websocket-extensions") is None, extensions
        finally:
            ws.close()
    # A well-formed offer beside a malformed one is the one agreed.
    ws = offering_extensions(
        server, token, "permessage-deflate; server_max_window_bits=abc, permessage-deflate"
    )
    try:
        answer = (ws.getheaders() or {}).get("sec-websocket-extensions") or ""
        assert answer.startswith("permessage-deflate")
        assert "abc" not in answer
    finally:
        ws.close()
    assert "unhandled_error" not in server.log()
    # Well-formed offers are agreed or declined, never refused (the library declines 8).
    for extensions, agreed in (
        ("permessage-deflate; client_max_window_bits", "client_max_window_bits=15"),
        ("permessage-deflate; server_max_window_bits=10", "server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=8", None),
        ("x-webkit-deflate-frame", None),
    ):
        ws = offering_extensions(server, token, extensions)
        try:
            assert ws.getstatus() == 101
            answer = (ws.getheaders() or {}).get("sec-websocket-extensions")
            assert answer == (f"permessage-deflate; {agreed}" if agreed else None), extensions
        finally:
            ws.close()


def test_a_socket_closes_when_its_token_expires(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    ws = connect(server.ws, minter.token(player_id, lifetime=2))
    try:
        assert next_event(ws, timeout=15) == Closed(
            CloseCode.UNAUTHENTICATED, "The access token has expired."
        )
    finally:
        ws.close()


def test_a_close_order_closes_every_socket_of_the_user(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    sockets = [connect(server.ws, minter.token(player_id)) for _ in range(2)]
    try:
        reason = "The account is not active."
        server.channel.publish([LiveMessage.close_sessions(player_id, CloseCode.FORBIDDEN, reason)])
        for ws in sockets:
            assert next_event(ws) == Closed(CloseCode.FORBIDDEN, reason)
    finally:
        for ws in sockets:
            ws.close()


def test_a_user_cannot_hold_more_sockets_than_the_limit(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    token = minter.token(player_id)
    sockets = [connect(server.ws, token) for _ in range(MAX_SOCKETS)]
    try:
        # The socket is only counted once its handler runs: prove they all do first.
        server.push(player_id, "ready")
        for ws in sockets:
            assert isinstance(next_event(ws), dict)
        extra = connect(server.ws, token)
        try:
            event = next_event(extra)
            assert isinstance(event, Closed)
            assert event.code == CloseCode.TOO_MANY_SESSIONS
        finally:
            extra.close()
    finally:
        for ws in sockets:
            ws.close()


def test_the_server_pings_idle_sockets(server: Server, minter: TokenMinter, player_id: str) -> None:
    ws = connect(server.ws, minter.token(player_id))
    try:
        ws.settimeout(10)
        opcode, _frame = ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_PING
        # websocket-client answered with a pong, so the socket stays open and usable.
        server.push(player_id, "after-ping")
        event = next_event(ws)
        assert isinstance(event, dict)
        assert event["notification"]["id"] == "after-ping"
    finally:
        ws.close()


def test_a_client_that_stops_reading_is_closed_by_the_missed_pong(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    # The documented close for a stalled reader (notification.md): 1008 "Ping/Pong timeout".
    ws = connect(server.ws, minter.token(player_id))
    try:
        server.push(player_id, "unread-while-stalled")
        time.sleep(3)  # pings every second: the first goes unanswered past the second
        # Raw frames: answering the pings now would write to a socket the server has closed.
        frames = [ws.recv_frame()]  # type: ignore[no-untyped-call]
        while frames[-1].opcode != websocket.ABNF.OPCODE_CLOSE:
            frames.append(ws.recv_frame())  # type: ignore[no-untyped-call]
        assert websocket.ABNF.OPCODE_TEXT in [frame.opcode for frame in frames]
        close = frames[-1].data
        assert struct.unpack("!H", close[:2])[0] == CloseCode.POLICY_VIOLATION
        assert close[2:] == b"Ping/Pong timeout"
    finally:
        ws.close()


def open_raw(server: Server, token: str) -> tuple[socket.socket, bytes]:
    """A socket that reads only when told to, with a 4 KB receive buffer (so the server's
    writes soon wait for it); the handshake by hand. Returns it with the bytes read past it."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /api/v1/notifications/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Authorization: Bearer {token}\r\n\r\n".encode()
    )
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)
    head, _, rest = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


def split_frames(data: bytes | bytearray) -> tuple[list[tuple[int, bytes]], bytes]:
    """The whole frames at the start of ``data`` (a server's: unmasked), and the rest."""
    frames: list[tuple[int, bytes]] = []
    at = 0
    while at + 2 <= len(data):
        opcode, length, start = data[at] & 0x0F, data[at + 1] & 0x7F, at + 2
        if length == 126:
            length, start = int.from_bytes(data[start : start + 2], "big"), start + 2
        elif length == 127:
            length, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        if start + length > len(data):
            break
        frames.append((opcode, bytes(data[start : start + length])))
        at = start + length
    return frames, bytes(data[at:])


def read_until_over(sock: socket.socket, data: bytes, seconds: float) -> tuple[bytes, str]:
    """Read everything for up to ``seconds``; how it ended: "eof", "reset" or "open"."""
    received = bytearray(data)
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return bytes(received), "reset"
        if not chunk:
            return bytes(received), "eof"
        received += chunk
    return bytes(received), "open"


def wait_served(server: Server, sock: socket.socket, data: bytes, player_id: str) -> bytes:
    """Push one notification and read until it arrives: the socket's handler runs."""
    server.push(player_id, "ready")
    received = bytearray(data)
    while not any(op == websocket.ABNF.OPCODE_TEXT for op, _ in split_frames(received)[0]):
        received += sock.recv(4096)
    return bytes(received)


def tcp_state(sock: socket.socket) -> int:
    """The kernel's state of the connection (``tcpi_state``): 1 is ESTABLISHED."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def test_a_client_that_falls_behind_gets_whole_frames_then_a_close(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    sock, data = open_raw(server, minter.token(player_id))
    try:
        data = wait_served(server, sock, data, player_id)
        filler = "x" * 3000
        server.channel.publish(
            [
                LiveMessage(
                    LiveMessageKind.NOTIFICATION,
                    player_id,
                    notification=notification(str(n), {"f": filler}),
                )
                for n in range(2000)
            ]
        )
        # Megabytes for a 4 KB window: the server's buffers fill and its writes wait. The
        # client comes back before the write timeout, and reads everything.
        time.sleep(WRITE_TIMEOUT - 1)
        data, ending = read_until_over(sock, data, 30)
    finally:
        sock.close()
    frames, rest = split_frames(data)
    *sent, (last_opcode, last_payload) = frames
    # A frame cut short makes what follows it garbage (read as frames of any opcode).
    assert {opcode for opcode, _ in sent} <= {
        websocket.ABNF.OPCODE_TEXT,
        websocket.ABNF.OPCODE_PING,
    }, "the stream is corrupted"
    ids = [
        json.loads(payload)["notification"]["id"]
        for opcode, payload in sent
        if opcode == websocket.ABNF.OPCODE_TEXT
    ]
    # Whole frames, in order, none lost in the middle (the rest waits in MongoDB).
    assert ids == ["ready", *(str(n) for n in range(len(ids) - 1))]
    # The raw client answers no ping: the missed pong (or the backlog) closes it, readably.
    assert last_opcode == websocket.ABNF.OPCODE_CLOSE
    assert struct.unpack("!H", last_payload[:2])[0] in (
        CloseCode.POLICY_VIOLATION,
        CloseCode.TRY_AGAIN_LATER,
    )
    assert rest == b""
    assert ending in ("eof", "reset")


def flood_with_pings(sock: socket.socket) -> None:
    """Send pings and read none of the pongs, until the server takes no more (or drops the
    connection)."""
    ping = bytes([0x89, 0x80 | 125]) + b"\0\0\0\0" + b"p" * 125
    sock.setblocking(False)
    refused_since = None
    while refused_since is None or time.monotonic() - refused_since < 1:
        try:
            sock.send(ping * 64)
            refused_since = None
        except BlockingIOError:
            refused_since = refused_since or time.monotonic()
            time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError):
            return


def test_a_client_that_takes_nothing_is_dropped_within_the_write_timeout(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    sock, data = open_raw(server, minter.token(player_id))
    try:
        wait_served(server, sock, data, player_id)
        flood_with_pings(sock)
        # Dropped within the write timeout of the write it stopped taking (and a ping's wait
        # for it), seen without reading: the connection is reset, its buffers freed, rather
        # than held until the peer reads (it was held for as long as the client lived).
        deadline = time.monotonic() + WRITE_TIMEOUT + 5
        while tcp_state(sock) == 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tcp_state(sock) != 1, "the server still holds the connection"
    finally:
        sock.close()
    # The session's greenlet logs it at its next wake-up (within a second).
    deadline = time.monotonic() + 5
    while "live_socket_dropped" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "live_socket_dropped" in server.log()
    assert "unhandled_error" not in server.log()


def test_a_token_expiring_while_a_write_waits_closes_the_socket_cleanly(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    sock, data = open_raw(server, minter.token(player_id, lifetime=2))
    try:
        wait_served(server, sock, data, player_id)
        flood_with_pings(sock)
        time.sleep(WRITE_TIMEOUT + 1)
    finally:
        sock.close()
    log = server.log()
    # The expiry's close waited on the write in progress (gevent refused two writers on one
    # socket: an unhandled error, and a 500 written onto the upgraded socket).
    assert "ConcurrentObjectUseError" not in log
    assert "unhandled_error" not in log


def test_the_token_in_the_query_string_is_never_logged(
    server: Server, minter: TokenMinter, player_id: str
) -> None:
    token = minter.token(player_id)
    ws = connect(server.ws, token, in_query=True)
    server.push(player_id, "logged?")
    assert isinstance(next_event(ws), dict)
    ws.close()
    assert refused_status(server.ws, TokenMinter().token(player_id), in_query=True) == 401
    log = server.log()
    assert "/api/v1/notifications/ws" in log  # the access log line is there…
    assert token.split(".")[2] not in log  # …without the token
    assert "access_token" not in log


def test_stopping_the_server_closes_its_sockets_at_once(
    infra: Infra,
    jwks: JwksServer,
    channel: RedisLiveChannel,
    minter: TokenMinter,
    player_id: str,
    tmp_path: Path,
) -> None:
    own = start_server(infra, jwks, channel, tmp_path)
    try:
        ws = connect(own.ws, minter.token(player_id))
        own.push(player_id, "before")
        assert isinstance(next_event(ws), dict)
        os.killpg(own.process.pid, signal.SIGTERM)
        assert next_event(ws) == Closed(CloseCode.GOING_AWAY, "The server is restarting.")
        ws.close()
        # The worker did not wait out its graceful timeout (25 s) for the socket.
        own.process.process.wait(15)
    finally:
        own.process.stop()
