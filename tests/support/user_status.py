"""``user-status`` records as auth publishes them, for consumer tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.application.events import IntegrationEvent, format_timestamp


def status_changed(user_id: str, status: str) -> dict[str, object]:
    return IntegrationEvent(
        "USER_STATUS_CHANGED", user_id, {"status": status, "role": "player", "changedBy": "a1"}
    ).to_message()


def tokens_revoked(user_id: str, issued_before: int) -> dict[str, object]:
    """The player's tokens issued before ``issued_before`` (epoch seconds) revoked."""

    def moment(epoch: int) -> str:
        return format_timestamp(datetime.fromtimestamp(epoch, UTC))

    data = {
        "role": "player",
        "reason": "PASSWORD_CHANGED",
        "issuedBefore": moment(issued_before),
        "expiresAt": moment(issued_before + 960),
    }
    return IntegrationEvent("TOKENS_REVOKED", user_id, data).to_message()
