"""Partner events as a partner app sends them (HOTEL_STAY, CASINO_SPEND, DINING, reversals)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.application.events import format_timestamp

_SPEND: dict[str, dict[str, Any]] = {
    "CASINO_SPEND": {"amountWagered": "125.00"},
    "DINING": {"checkAmount": "48.20"},
    "HOTEL_STAY": {"nights": 2},
}


def partner_message(
    player: str,
    event_type: str = "CASINO_SPEND",
    occurred_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A complete, valid event (the type's default spend unless ``fields`` say otherwise)."""
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "version": 1,
        "occurredAt": format_timestamp(occurred_at or datetime.now(UTC) - timedelta(minutes=1)),
        "correlationId": f"corr-{uuid.uuid4().hex[:8]}",
        "user_id": player,
        "partnerId": event_type.split("_", maxsplit=1)[0].lower(),
        "reference": f"REF-{uuid.uuid4().hex[:10]}",
        **_SPEND.get(event_type, {}),
        **fields,
    }


def reversal_message(original: dict[str, Any], **fields: Any) -> dict[str, Any]:
    message = partner_message(
        original["user_id"],
        f"{original['eventType']}_REVERSED",
        originalEventId=original["eventId"],
        reason="refunded",
        **fields,
    )
    message.pop("reference")
    return message
