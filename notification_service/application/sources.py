"""Which consumed events become notifications, and how: one entry per topic.

A new source is one function turning its event into a :class:`NotificationDraft` (or None when
the event is worth no notification) plus one line in :data:`NOTIFICATION_SOURCES`; the worker
consumes every topic listed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from notification_service.domain.exceptions import InvalidNotification
from notification_service.domain.model import ANY_ACCOUNT_TYPES, PLAYER_ROLE, NotificationDraft
from shared.application.events import IntegrationEvent, Topic

NotificationMapper = Callable[[IntegrationEvent], NotificationDraft | None]

POINTS_EARNED = "POINTS_EARNED"
POINTS_REVERSED = "POINTS_REVERSED"
REDEMPTION_CONFIRMED = "REDEMPTION_CONFIRMED"
REDEMPTION_REJECTED = "REDEMPTION_REJECTED"

#: what a partner event was, in the words a player reads
_ACTIVITIES = {
    "HOTEL_STAY": "your hotel stay",
    "CASINO_SPEND": "your casino play",
    "DINING": "your dining",
    "HOTEL_STAY_REVERSED": "a cancelled hotel stay",
    "CASINO_SPEND_REVERSED": "reversed casino play",
    "DINING_REVERSED": "a refunded dining check",
}
_REJECTIONS = {
    "INSUFFICIENT_POINTS": "You do not have enough points for it.",
    "PLAYER_INACTIVE": "Your account is not active.",
    "INVALID_REQUEST": "The request was not valid.",
    "UNKNOWN_PLAYER": "No player has this id.",
}


def _optional_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidNotification(f"`{name}` must be a string.")
    return value


def from_notification_event(event: IntegrationEvent) -> NotificationDraft:
    """Topic ``notifications``: the event type is the notification type, ``content`` is shown
    as the producer wrote it (with an optional ``title`` and ``message``). The recipient is a
    player unless the event names another ``role`` (a password change is sent to every
    account); a type sent to every account without a ``role`` has a recipient of no known
    role."""
    content = event.data.get("content")
    if not isinstance(content, Mapping):
        raise InvalidNotification("A notification event needs an object `content`.")
    role = _optional_text(event.data, "role")
    if role is None and event.event_type not in ANY_ACCOUNT_TYPES:
        role = PLAYER_ROLE
    return NotificationDraft(
        user_id=event.user_id,
        type=event.event_type,
        event_id=event.event_id,
        created_at=event.occurred_at,
        content=dict(content),
        title=_optional_text(event.data, "title"),
        message=_optional_text(event.data, "message"),
        recipient_role=role,
    )


def _integer(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidNotification(f"`{name}` must be an integer.")
    return value


def _points(count: int) -> str:
    return f"{count:,} point{'' if count == 1 else 's'}"


def from_reward_confirmed(event: IntegrationEvent) -> NotificationDraft | None:
    """Topic ``reward-confirmed``: points earned (``POINTS_EARNED``) or taken back by a
    reversal (``POINTS_REVERSED``). A zero award (a wager too small to earn) is not worth a
    notification."""
    if event.event_type != "REWARD_CONFIRMED":
        raise InvalidNotification(f"{event.event_type} is not a reward confirmation.")
    data = event.data
    awarded = _integer(data, "pointsAwarded")
    if awarded == 0:
        return None
    source_type = _optional_text(data, "sourceEventType") or ""
    activity = _ACTIVITIES.get(source_type, "partner activity")
    content: dict[str, Any] = {"points": awarded, "sourceEventType": source_type}
    for name in ("sourceEventId", "partnerId", "reference"):
        value = _optional_text(data, name)
        if value is not None:
            content[name] = value
    if awarded > 0:
        return NotificationDraft(
            user_id=event.user_id,
            type=POINTS_EARNED,
            event_id=event.event_id,
            created_at=event.occurred_at,
            content=content,
            title="Points earned",
            message=f"You earned {_points(awarded)} for {activity}.",
        )
    return NotificationDraft(
        user_id=event.user_id,
        type=POINTS_REVERSED,
        event_id=event.event_id,
        created_at=event.occurred_at,
        content=content,
        title="Points reversed",
        message=(
            f"{_points(-awarded)} earned for {activity} were taken back. If you had already "
            "spent them, your points balance may be below zero until you earn more; you can "
            "redeem again once it is back above the reward's price."
        ),
    )


def from_redemption_outcome(event: IntegrationEvent) -> NotificationDraft:
    """Topic ``redeem-confirmed``: a redemption confirmed (``REDEMPTION_CONFIRMED``) or
    rejected with its reason (``REDEMPTION_REJECTED``)."""
    if event.event_type not in {REDEMPTION_CONFIRMED, REDEMPTION_REJECTED}:
        raise InvalidNotification(f"{event.event_type} is not a redemption outcome.")
    data = event.data
    points = _integer(data, "points")
    reward = _optional_text(data, "rewardDescription") or "your reward"
    content: dict[str, Any] = {
        "redeemRequestId": _optional_text(data, "redeemRequestId"),
        "points": points,
        "reward": reward,
    }
    balance = data.get("pointsBalance")
    if balance is not None:
        content["balance"] = _integer(data, "pointsBalance")
    balance_text = f" Your points balance is {balance:,}." if balance is not None else ""
    if event.event_type == REDEMPTION_CONFIRMED:
        title = "Redemption confirmed"
        message = f"You redeemed {_points(points)} for {reward}.{balance_text}"
    else:
        reason = _optional_text(data, "reason") or "INVALID_REQUEST"
        content["reason"] = reason
        title = "Redemption declined"
        message = (
            f"Your redemption of {_points(points)} for {reward} was declined. "
            f"{_REJECTIONS.get(reason, 'It could not be completed.')}{balance_text}"
        )
    return NotificationDraft(
        user_id=event.user_id,
        type=event.event_type,
        event_id=event.event_id,
        created_at=event.occurred_at,
        content=content,
        title=title,
        message=message[:1000],
    )


NOTIFICATION_SOURCES: Mapping[str, NotificationMapper] = {
    Topic.NOTIFICATIONS.value: from_notification_event,
    Topic.REWARD_CONFIRMED.value: from_reward_confirmed,
    Topic.REDEEM_CONFIRMED.value: from_redemption_outcome,
}
