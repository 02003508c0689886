"""The WebSocket on a real gunicorn (gevent) process, fed over real Redis pub/sub, with tokens
from a JWKS served by the test: delivery, every refusal, and every way a socket is closed."""

from __future__ import annotations

import os
import signal
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


@dataclass
class Server:
    url: str
    process: ManagedProcess
    channel: RedisLiveChannel

    @property
    def ws(self) -> str:
        return socket_url(self.url)

    def push(self, user_id: str, notification_id: str) -> None:
        body = {"id": notification_id, "type": "PROMOTION", "content": {"n": notification_id}}
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
                "notification": {
                    "id": "for-the-player",
                    "type": "PROMOTION",
                    "content": {"n": "for-the-player"},
                },
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
    ):
        # RFC 7692 §5: an offer with an invalid value is declined; the socket opens without it.
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
