"""Reading a ``PLAYER_REGISTERED`` record, for every service that keeps its own players."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.application.events import parse_timestamp
from shared.messaging.consumer import InboundEvent, RejectEvent


def registration_of(inbound: InboundEvent) -> tuple[str, datetime]:
    """The player id as a canonical UUID and the registration time; a record with either
    unreadable can never be processed (``invalid_player_id``, ``invalid_registered_at``)."""
    try:
        player_id = str(uuid.UUID(inbound.event.user_id))
    except ValueError:
        raise RejectEvent(
            "invalid_player_id", f"user_id {inbound.event.user_id[:64]!r} is not a UUID"
        ) from None
    # Checked here as well: the schema's date-time format is not enforced by every validator.
    value = str(inbound.event.data.get("registeredAt"))
    try:
        return player_id, parse_timestamp(value)
    except ValueError:
        raise RejectEvent(
            "invalid_registered_at", f"registeredAt {value[:40]!r} is not a timestamp"
        ) from None
