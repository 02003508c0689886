"""Notification error codes and the one mapping of domain exceptions to HTTP statuses."""

from __future__ import annotations

from notification_service.domain import exceptions as e
from shared.errors import AppErrorCode
from shared.web.errors import ErrorMap, ErrorSpec


class NotificationErrorCode(AppErrorCode):
    NOTIFICATION_NOT_FOUND = "NOTIFICATION_NOT_FOUND"
    TOO_MANY_SOCKETS = "NOTIFICATION_TOO_MANY_SOCKETS"
    WEBSOCKET_UPGRADE_REQUIRED = "NOTIFICATION_WEBSOCKET_UPGRADE_REQUIRED"
    WEBSOCKET_PROTOCOL_REQUIRED = "NOTIFICATION_WEBSOCKET_PROTOCOL_REQUIRED"
    WEBSOCKET_HANDSHAKE_INVALID = "NOTIFICATION_WEBSOCKET_HANDSHAKE_INVALID"
    PLAYERS_ONLY = "NOTIFICATION_PLAYERS_ONLY"


ERRORS: ErrorMap = {
    e.NotificationNotFound: ErrorSpec(404, NotificationErrorCode.NOTIFICATION_NOT_FOUND),
    e.TooManyLiveSessions: ErrorSpec(429, NotificationErrorCode.TOO_MANY_SOCKETS),
}
