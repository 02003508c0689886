"""Which consumed events become notifications, and how: one entry per topic.

A new source (``reward-confirmed``, ``redeem-confirmed``) is one function turning its event into
a :class:`NotificationDraft` plus one line in :data:`NOTIFICATION_SOURCES`; the worker consumes
every topic listed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from notification_service.domain.exceptions import InvalidNotification
from notification_service.domain.model import NotificationDraft
from shared.application.events import IntegrationEvent, Topic

NotificationMapper = Callable[[IntegrationEvent], NotificationDraft]


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidNotification(f"`{name}` must be a string.")
    return value


def from_notification_event(event: IntegrationEvent) -> NotificationDraft:
    """Topic ``notifications``: the event type is the notification type, ``content`` is shown
    as the producer wrote it (with an optional ``title`` and ``message``)."""
    content = event.data.get("content")
    if not isinstance(content, Mapping):
        raise InvalidNotification("A notification event needs an object `content`.")
    return NotificationDraft(
        user_id=event.user_id,
        type=event.event_type,
        event_id=event.event_id,
        created_at=event.occurred_at,
        content=dict(content),
        title=_optional_text(event.data, "title"),
        message=_optional_text(event.data, "message"),
    )


NOTIFICATION_SOURCES: Mapping[str, NotificationMapper] = {
    Topic.NOTIFICATIONS.value: from_notification_event,
}
