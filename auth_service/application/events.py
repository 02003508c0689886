"""Integration events the identity service publishes (schemas in docs/events/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auth_service.domain.model import CLOCK_SKEW_MARGIN, PartnerClient, User
from shared.application.events import TOKENS_REVOKED, IntegrationEvent, format_timestamp
from shared.domain.principal import CLIENT_ROLE


def player_registered(user: User) -> IntegrationEvent:
    data: dict[str, object] = {
        "email": user.email,
        "registeredAt": format_timestamp(user.created_at),
    }
    if user.first_name:
        data["firstName"] = user.first_name
    if user.last_name:
        data["lastName"] = user.last_name
    return IntegrationEvent(
        event_type="PLAYER_REGISTERED", user_id=user.id, data=data, occurred_at=user.created_at
    )


def password_changed(user: User) -> IntegrationEvent:
    """The notification the owner receives: a change they did not make must not go unseen."""
    return IntegrationEvent(
        event_type="PASSWORD_CHANGED",
        user_id=user.id,
        occurred_at=user.updated_at,
        data={
            "title": "Your password was changed",
            "message": "Your password was changed and your other sessions were signed out. "
            "If this was not you, contact the players club at once.",
            "content": {"changedAt": format_timestamp(user.updated_at)},
            # Sent to every account: staff read only players' notifications.
            "role": user.role.value,
        },
    )


def user_status_changed(user: User, changed_by: str) -> IntegrationEvent:
    return IntegrationEvent(
        event_type="USER_STATUS_CHANGED",
        user_id=user.id,
        data={"status": user.status.value, "role": user.role.value, "changedBy": changed_by},
        occurred_at=user.updated_at,
    )


def client_status_changed(client: PartnerClient, changed_by: str | None) -> IntegrationEvent:
    """A client disabled (its tokens are refused everywhere within seconds) or enabled again."""
    data: dict[str, Any] = {
        "status": "ACTIVE" if client.is_active else "INACTIVE",
        "role": CLIENT_ROLE,
    }
    if changed_by:
        data["changedBy"] = changed_by
    return IntegrationEvent(
        event_type="USER_STATUS_CHANGED",
        user_id=client.client_id,
        data=data,
        # When it changed: services apply an account's changes in this order (ADR 0015).
        occurred_at=client.updated_at or datetime.now(UTC),
    )


def tokens_revoked(
    account_id: str,
    role: str,
    at: datetime,
    token_lifetime: timedelta,
    reason: str,
    changed_by: str | None = None,
) -> IntegrationEvent:
    """The account's access tokens issued until ``at`` are refused from now on (ADR 0021).

    Tokens carry ``iat`` in whole seconds, so the revocation takes the whole second ``at``
    falls in: a token issued earlier in that second (a thief refreshing in a loop lands one
    there) is refused too, and auth dates the tokens it issues for the account after the change
    to the next second (:func:`first_unrevoked_second`). It can be forgotten once the last
    token it refuses has expired (lifetime and clock skew).
    """
    issued_before = at.replace(microsecond=0) + timedelta(seconds=1)
    data: dict[str, Any] = {
        "role": role,
        "reason": reason,
        "issuedBefore": format_timestamp(issued_before),
        "expiresAt": format_timestamp(issued_before + token_lifetime + CLOCK_SKEW_MARGIN),
    }
    if changed_by:
        data["changedBy"] = changed_by
    return IntegrationEvent(
        event_type=TOKENS_REVOKED, user_id=account_id, data=data, occurred_at=at
    )
