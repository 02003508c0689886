"""WebSocket ``/api/v1/notifications/ws``: a player's notifications, pushed as they arrive.

The access token comes in the ``Authorization: Bearer`` header or, because browsers cannot set
headers on a WebSocket, as a subprotocol: ``new WebSocket(url, ["loyalty.notifications.v1",
"bearer." + token])`` (the server answers ``loyalty.notifications.v1``; the token stays out of
URLs and so out of proxy logs and browser history). The ``access_token`` query parameter is
still accepted for older clients. It is checked before the upgrade
exactly like the REST API checks it (RS256 from the JWKS, issuer, audience, expiry, inactive
accounts): without a valid one the answer is HTTP 401, for anyone but a player 403, both in the
error envelope. Once open, the socket is closed with 4401 when the token expires, 4403 when the
account is deactivated, 4429 past the per-user socket limit, 1013 when the client cannot keep
up (a client that takes nothing for ``live.write_timeout_seconds`` while a frame waits is
dropped without a close frame: none could reach it), 1008 when it misses a pong ("Ping/Pong
timeout": reconnect and fetch ``?unread=true``) or keeps sending messages, and 1001 when the
server restarts. Messages are
``{"type": "notification", "notification": {id, type, content, read, createdAt, …}}``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, Response, g, request
from flask_jwt_extended import get_jwt
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from werkzeug.routing.exceptions import WebsocketMismatch
from wsproto.utilities import RemoteProtocolError

from notification_service.application.live import (
    CloseCode,
    LiveSessions,
    SessionPolicy,
    SessionTransport,
    serve,
)
from notification_service.container import Container
from notification_service.controllers.errors import NotificationErrorCode
from notification_service.controllers.metrics import (
    LIVE_FRAMES_SENT,
    LIVE_SOCKETS,
    LIVE_SOCKETS_CLOSED,
)
from notification_service.controllers.socket_writes import BoundedWriteSocket
from notification_service.domain.exceptions import TooManyLiveSessions
from shared.application.ports import InactiveUsers
from shared.domain.clock import Clock
from shared.domain.principal import Role
from shared.observability.logging import get_logger
from shared.security.resource_server import current_principal, verify_access_token
from shared.security.tokens import issued_at
from shared.web.errors import HttpError, error_response, unexpected_error_response

WS_PATH = "/api/v1/notifications/ws"
TOKEN_QUERY_PARAMETER = "access_token"  # noqa: S105 - a parameter name, not a secret
SUBPROTOCOL = "loyalty.notifications.v1"
TOKEN_SUBPROTOCOL_PREFIX = "bearer."  # noqa: S105 - a prefix, not a secret
_MAX_DISCARDED_PER_WAKEUP = 100

#: the handshake's comma-separated token lists (RFC 6455 §4.1, RFC 7230 tokens: ASCII)
_TOKEN_LIST_HEADERS = (
    "Connection",
    "Upgrade",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
)
#: the length of a Sec-WebSocket-Key's nonce (RFC 6455 §4.1)
_KEY_BYTES = 16
#: the compression extension the library negotiates, and the parameters of an offer: a window
#: size is 8 to 15 as bare digits (RFC 7692 §7.1.2), only the client's may come without one;
#: the context-takeover flags take no value
_DEFLATE = "permessage-deflate"
_CLIENT_WINDOW_BITS = "client_max_window_bits"
_SERVER_WINDOW_BITS = "server_max_window_bits"
_CONTEXT_TAKEOVER_FLAGS = frozenset({"server_no_context_takeover", "client_no_context_takeover"})
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")

log = get_logger(__name__)
blp = Blueprint("notification_socket", __name__)
sock = Sock()


@blp.before_request
def _authenticate() -> None:
    """Refuse before the upgrade: nothing is accepted without a valid player token."""
    _token_from_subprotocols()
    verify_access_token(locations=["headers", "query_string"])
    if current_principal().role is not Role.PLAYER:
        raise HttpError(
            403, NotificationErrorCode.PLAYERS_ONLY, "Only players have a notification socket."
        )
    g.token_expires_at = datetime.fromtimestamp(int(get_jwt()["exp"]), UTC)
    g.token_issued_at = issued_at(get_jwt())
    _check_handshake()
    _bound_socket_writes()
    # flask-sock builds the server-side socket next: what fails there is the handshake's fault
    g.building_socket = True


#: where servers put the client's connection in the WSGI environment, for the WebSocket library
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")


@inject
def _bound_socket_writes(policy: SessionPolicy = Provide[Container.session_policy]) -> None:
    """The library takes the connection from the environment: it gets one whose writes are
    whole, one at a time, and dropped past the write timeout (see ``socket_writes``)."""
    for key in _SOCKET_KEYS:
        connection = request.environ.get(key)
        if connection is not None and not isinstance(connection, BoundedWriteSocket):
            request.environ[key] = BoundedWriteSocket(connection, policy.write_timeout_seconds)


def _check_handshake() -> None:
    """An upgrade the WebSocket library would fail on is answered here (RFC 6455 §4.2.1):
    another protocol version → 426 naming ours, a missing or malformed key, token lists that
    are not ASCII → 400; a ``permessage-deflate`` offer RFC 7692 §7 refuses is declined."""
    if request.headers.get("Sec-WebSocket-Version", "").strip() != "13":
        raise HttpError(
            426,
            NotificationErrorCode.WEBSOCKET_UPGRADE_REQUIRED,
            "This endpoint speaks WebSocket version 13.",
            headers={"Sec-WebSocket-Version": "13"},
        )
    try:
        nonce = base64.b64decode(request.headers.get("Sec-WebSocket-Key", ""), validate=True)
    except binascii.Error:
        nonce = b""
    if len(nonce) != _KEY_BYTES:
        raise HttpError(
            400,
            NotificationErrorCode.WEBSOCKET_HANDSHAKE_INVALID,
            "Sec-WebSocket-Key must be 16 bytes in base64.",
        )
    for name in _TOKEN_LIST_HEADERS:
        if not request.headers.get(name, "").isascii():
            # The library decodes these lists as ASCII and failed with a 500 otherwise.
            raise HttpError(
                400,
                NotificationErrorCode.WEBSOCKET_HANDSHAKE_INVALID,
                f"{name} may hold ASCII characters only.",
            )
    _decline_malformed_deflate_offers()


def _decline_malformed_deflate_offers() -> None:
    """RFC 7692 §7: a server declines a ``permessage-deflate`` offer with a parameter not
    defined for an offer, a parameter given twice, or an invalid value, and the connection
    goes on uncompressed. The library agreed to such offers (the last of two values won, an
    unknown parameter was ignored, a longer name was read as the one it starts with) or failed
    with a 500 (``server_max_window_bits=abc``). Such an offer is taken out of the request
    before the library reads it, the client's other offers kept."""
    listed = ",".join(request.headers.getlist("Sec-WebSocket-Extensions")).split(",")
    offers = [offer.strip() for offer in listed if offer.strip()]
    kept = [offer for offer in offers if acceptable_offer(offer)]
    if len(kept) < len(offers):
        if kept:
            request.environ["HTTP_SEC_WEBSOCKET_EXTENSIONS"] = ", ".join(kept)
        else:
            request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


def acceptable_offer(offer: str) -> bool:
    """Whether the library may read ``offer``: another extension, or ``permessage-deflate``
    with only the parameters RFC 7692 §7.1 defines for an offer, each at most once, and valid
    values (window sizes 8 to 15 in bare digits, only the client's without one; no value for
    the context-takeover flags)."""
    name, *parameters = (part.strip() for part in offer.split(";"))
    if name.lower() != _DEFLATE:
        return True
    seen: set[str] = set()
    for parameter in parameters:
        key, has_value, value = (part.strip() for part in parameter.partition("="))
        if key in seen:
            return False
        seen.add(key)
        if key in _CONTEXT_TAKEOVER_FLAGS:
            valid = not has_value
        elif key == _CLIENT_WINDOW_BITS:
            valid = not has_value or bool(_WINDOW_BITS.fullmatch(value))
        elif key == _SERVER_WINDOW_BITS:
            valid = bool(_WINDOW_BITS.fullmatch(value))
        else:
            valid = False  # not a parameter of an offer
        if not valid:
            return False
    return True


def handshake_refused(_exc: RemoteProtocolError) -> Response:
    """Anything else the WebSocket library refuses in the handshake: the client's error."""
    return error_response(
        400,
        NotificationErrorCode.WEBSOCKET_HANDSHAKE_INVALID,
        "The WebSocket handshake is not valid.",
    )


@blp.errorhandler(ValueError)
@blp.errorhandler(IndexError)
def _socket_not_built(exc: Exception) -> Response:
    """The WebSocket library fails on some malformed handshakes with a bare ``ValueError`` or
    ``IndexError`` while it builds the server-side socket (before anything is sent): the
    client's error, like ``handshake_refused``. Raised anywhere else, it is unexpected."""
    if not g.get("building_socket"):
        return unexpected_error_response(exc)
    log.warning("websocket_handshake_refused", error_type=type(exc).__name__)
    return error_response(
        400,
        NotificationErrorCode.WEBSOCKET_HANDSHAKE_INVALID,
        "The WebSocket handshake is not valid.",
    )


def _token_from_subprotocols() -> None:
    """A token offered as the ``bearer.<token>`` subprotocol becomes the request's
    ``Authorization`` header (an explicit header wins). A browser drops a socket whose server
    chose none of its subprotocols, so such a client must offer ours too: 400 otherwise."""
    offered = [
        item.strip()
        for value in request.headers.getlist("Sec-WebSocket-Protocol")
        for item in value.split(",")
    ]
    tokens = [item for item in offered if item.startswith(TOKEN_SUBPROTOCOL_PREFIX)]
    if not tokens:
        return
    if SUBPROTOCOL not in offered:
        raise HttpError(
            400,
            NotificationErrorCode.WEBSOCKET_PROTOCOL_REQUIRED,
            f"Offer the {SUBPROTOCOL} subprotocol with the token.",
        )
    if "HTTP_AUTHORIZATION" not in request.environ:
        request.environ["HTTP_AUTHORIZATION"] = (
            f"Bearer {tokens[0].removeprefix(TOKEN_SUBPROTOCOL_PREFIX)}"
        )


def upgrade_required(_exc: WebsocketMismatch) -> Response:
    """A plain HTTP request to the socket (routing tells it apart from an upgrade)."""
    return error_response(
        426,
        NotificationErrorCode.WEBSOCKET_UPGRADE_REQUIRED,
        "This endpoint only speaks WebSocket.",
        headers={"Upgrade": "websocket", "Connection": "Upgrade"},
    )


class SimpleWebSocketTransport(SessionTransport):
    """flask-sock's (simple-websocket's) connection as the session needs it."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self._closed_with: int | None = None
        connection = getattr(ws, "sock", None)
        self._connection = connection if isinstance(connection, BoundedWriteSocket) else None

    @property
    def connected(self) -> bool:
        return bool(self._ws.connected) and not self.dropped

    @property
    def dropped(self) -> bool:
        """The connection was given up: a write failed, or the client took nothing in time."""
        return self._connection is not None and self._connection.dropped

    @property
    def closed_with(self) -> int | None:
        """The close code sent; 1013 for a client dropped for taking nothing in time."""
        if (
            self._closed_with is None
            and self._connection is not None
            and self._connection.timed_out
        ):
            return int(CloseCode.TRY_AGAIN_LATER)
        return self._closed_with

    def send(self, text: str) -> None:
        try:
            self._ws.send(text)
            LIVE_FRAMES_SENT.inc()
        except (ConnectionClosed, OSError):
            pass  # the client left; the loop sees it through ``connected``

    def close(self, code: int, reason: str) -> None:
        self._closed_with = code
        with contextlib.suppress(ConnectionClosed, OSError):
            self._ws.close(reason=code, message=reason)

    def discard_incoming(self) -> bool:
        try:
            for _ in range(_MAX_DISCARDED_PER_WAKEUP):
                if self._ws.receive(timeout=0) is None:
                    return False
        except ConnectionClosed:
            return False
        return self._ws.receive(timeout=0) is not None


@sock.route(WS_PATH, bp=blp)
def notification_socket(ws: Any) -> None:
    """Serve one player's socket until it closes (see the module docstring)."""
    g.building_socket = False
    _serve_socket(ws, current_principal().subject, g.token_expires_at, g.token_issued_at)


@inject
def _serve_socket(
    ws: Any,
    user_id: str,
    expires_at: datetime,
    issued_at: int | None,
    sessions: LiveSessions = Provide[Container.live_sessions],
    clock: Clock = Provide[Container.core.clock],
    inactive_users: InactiveUsers = Provide[Container.core.inactive_users],
    policy: SessionPolicy = Provide[Container.session_policy],
) -> None:
    transport = SimpleWebSocketTransport(ws)
    try:
        session = sessions.open(user_id, expires_at, issued_at)
    except TooManyLiveSessions as exc:
        transport.close(CloseCode.TOO_MANY_SESSIONS, exc.message)
        LIVE_SOCKETS_CLOSED.labels(str(int(CloseCode.TOO_MANY_SESSIONS))).inc()
        return
    LIVE_SOCKETS.inc()
    try:
        serve(session, transport, clock, inactive_users, policy)
    finally:
        sessions.close(session)
        LIVE_SOCKETS.dec()
        if transport.dropped:
            log.info("live_socket_dropped", user_id=user_id, code=transport.closed_with)
        if transport.closed_with is not None:
            LIVE_SOCKETS_CLOSED.labels(str(transport.closed_with)).inc()


def drain_on_terminate(sessions: LiveSessions) -> None:
    """Under gunicorn, SIGTERM lets the worker stop as usual and closes every socket with 1001,
    so clients reconnect to another replica at once instead of waiting out the graceful
    timeout. Outside a server (the previous handler is the default) nothing is installed."""
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        previous(signum, frame)
        _in_background(sessions.drain)

    signal.signal(signal.SIGTERM, on_terminate)


def _in_background(work: Callable[[], None]) -> None:
    """Run ``work`` outside the signal handler: it takes locks the interrupted code may hold,
    and under gevent the handler runs in the event loop, where nothing may block."""
    try:
        from gevent import monkey, spawn
    except ImportError:  # pragma: no cover - gevent is a dependency
        spawn = None
    if spawn is not None and monkey.is_module_patched("threading"):
        spawn(work)
        return
    threading.Thread(target=work, name="live-drain", daemon=True).start()


def openapi_operation() -> dict[str, Any]:
    """The socket in the OpenAPI document (flask-smorest documents only its own routes)."""
    return {
        "get": {
            "tags": ["notifications"],
            "summary": "Live notifications over WebSocket (players)",
            "description": __doc__,
            "operationId": "notificationSocket",
            "security": [{"bearerAuth": []}, {}],
            "parameters": [
                {
                    "name": TOKEN_QUERY_PARAMETER,
                    "in": "query",
                    "required": False,
                    "description": "The access token, for older clients that cannot set "
                    "headers; browsers should offer it as a subprotocol instead. Never logged.",
                    "schema": {"type": "string", "maxLength": 4096},
                },
                {
                    "name": "Sec-WebSocket-Protocol",
                    "in": "header",
                    "required": False,
                    "description": f"`{SUBPROTOCOL}, {TOKEN_SUBPROTOCOL_PREFIX}<access token>`: "
                    "the token for clients that cannot set headers (browsers); the server "
                    f"answers `{SUBPROTOCOL}`.",
                    "schema": {"type": "string"},
                },
                {
                    "name": "Upgrade",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "enum": ["websocket"]},
                },
            ],
            "responses": {
                "101": {"description": "Switching protocols: the socket is open"},
                **{
                    str(status): {
                        "description": description,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}
                            }
                        },
                    }
                    for status, description in (
                        (
                            400,
                            "A token subprotocol without the loyalty.notifications.v1 one, "
                            "or a malformed handshake (key, non-ASCII token lists); a "
                            "permessage-deflate offer with an unknown or repeated parameter "
                            "or an invalid value is declined (RFC 7692 §7)",
                        ),
                        (401, "Missing, invalid or expired access token, or inactive account"),
                        (403, "Not a player"),
                        (426, "Not a WebSocket upgrade request"),
                    )
                },
            },
        }
    }
