"""The one outward form of a notification, shared by the REST API and the WebSocket."""

from __future__ import annotations

from typing import Any

from notification_service.domain.model import Notification
from shared.application.events import format_timestamp


def notification_view(notification: Notification) -> dict[str, Any]:
    """``{id, type, content, read, createdAt}`` plus ``title``/``message``/``readAt`` when set."""
    view: dict[str, Any] = {
        "id": notification.id,
        "type": notification.type,
        "content": dict(notification.content),
        "read": notification.read,
        "createdAt": format_timestamp(notification.created_at),
    }
    if notification.title is not None:
        view["title"] = notification.title
    if notification.message is not None:
        view["message"] = notification.message
    if notification.read_at is not None:
        view["readAt"] = format_timestamp(notification.read_at)
    return view
