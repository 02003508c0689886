"""Reading a partner event message (already checked against its JSON Schema) into the domain.

The checks a schema cannot express live here, so Kafka and REST refuse the same events for the
same stable reasons.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from rewards_service.domain.earning import PartnerEvent, PartnerEventType
from rewards_service.domain.exceptions import InvalidPartnerEvent
from rewards_service.domain.points import EARLIEST
from shared.application.events import parse_timestamp

PARTNER_EVENT_TYPES = frozenset(t.value for t in PartnerEventType)

_AMOUNT_FIELDS = {
    PartnerEventType.HOTEL_STAY: "amount",
    PartnerEventType.CASINO_SPEND: "amountWagered",
    PartnerEventType.DINING: "checkAmount",
}


def canonical_uuid(value: object, reason: str, name: str) -> str:
    text = str(value)
    try:
        if not text.isascii():  # Python would read other scripts' digits as hex digits
            raise ValueError(text)
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidPartnerEvent(reason, f"{name} {text[:64]!r} is not a UUID") from None


def _amount(value: object, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidPartnerEvent("invalid_amount", f"{name} is not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise InvalidPartnerEvent("invalid_amount", f"{name} must be a positive amount")
    return amount


def _occurred_at(message: Mapping[str, Any], now: datetime, max_ahead: timedelta) -> datetime:
    try:
        occurred_at = parse_timestamp(str(message["occurredAt"]))
    except ValueError:
        raise InvalidPartnerEvent(
            "invalid_occurred_at", f"occurredAt {str(message['occurredAt'])[:40]!r}"
        ) from None
    if occurred_at < EARLIEST:
        raise InvalidPartnerEvent("invalid_occurred_at", "occurredAt is before 2000-01-01")
    if occurred_at > now + max_ahead:
        raise InvalidPartnerEvent(
            "occurred_in_future",
            f"occurredAt is more than {int(max_ahead.total_seconds())} s ahead of our clock",
        )
    return occurred_at


def _spend(
    event_type: PartnerEventType, message: Mapping[str, Any]
) -> tuple[int | None, Decimal | None]:
    """Nights and money spent of an earning event."""
    nights: int | None = None
    if event_type is PartnerEventType.HOTEL_STAY:
        nights = int(message["nights"])
        if nights < 1:
            raise InvalidPartnerEvent("invalid_nights", "nights must be at least 1")
    field = _AMOUNT_FIELDS[event_type]
    if message.get(field) is not None:
        return nights, _amount(message[field], field)
    if event_type is not PartnerEventType.HOTEL_STAY:
        raise InvalidPartnerEvent("schema_violation", f"{field} is missing")
    return nights, None


EVENT_ID_CONFLICT = "event_id_conflict"
EVENT_REJECTED = "event_rejected"


def rejected_message(event_id: str) -> str:
    return (
        f"event {event_id} was rejected already (its original was not found in time, or is not "
        "its to reverse) and a repeat of it is rejected too; send it again as a new event: "
        "with a reference of its own, or an eventId of its own"
    )


def same_event(recorded: PartnerEvent, event: PartnerEvent) -> bool:
    """Whether ``event``, carrying the eventId of ``recorded``, is a repeat of it: the same
    partner, type, player, reference, original and spend. ``occurredAt`` is not compared (a
    submission without one gets the time it arrived), nor the correlation id or version."""
    return _content(recorded) == _content(event)


def conflicting(
    events: Mapping[int, PartnerEvent], recorded: Mapping[str, PartnerEvent]
) -> list[int]:
    """The positions of ``events`` whose eventId is taken by another event: one recorded
    already, or an earlier one of ``events``."""
    first: dict[str, PartnerEvent] = {}
    return [
        index
        for index, event in events.items()
        if not same_event(
            recorded.get(event.event_id) or first.setdefault(event.event_id, event), event
        )
    ]


def conflict_message(event_id: str) -> str:
    return (
        f"eventId {event_id} was already used for another event (partner, type, player, "
        "reference or amounts differ); send this one with an eventId of its own"
    )


def _content(event: PartnerEvent) -> tuple[Any, ...]:
    nights, amount = event.nights, event.amount
    if not event.is_reversal and nights is None and amount is None:
        # As stored, an event keeps what it was received with, not the parsed spend.
        with contextlib.suppress(InvalidPartnerEvent, KeyError, TypeError, ValueError):
            nights, amount = _spend(event.event_type, event.payload)
    return (
        event.event_type,
        event.player_id,
        event.partner_id,
        event.reference,
        event.original_event_id,
        nights,
        amount,
    )


_NO_LATER_THAN = datetime(9999, 1, 1, tzinfo=UTC)


def parked_event(payload: Mapping[str, Any]) -> PartnerEvent | None:
    """The event a parked message holds (it was checked when it arrived), None if it does not
    read as one any more."""
    with contextlib.suppress(InvalidPartnerEvent):
        return parse_partner_event(payload, _NO_LATER_THAN, timedelta(0))
    return None


def parse_partner_event(
    message: Mapping[str, Any], now: datetime, max_ahead: timedelta
) -> PartnerEvent:
    """The domain event of ``message``; raises InvalidPartnerEvent with a stable reason.

    ``occurredAt`` may be at most ``max_ahead`` later than ``now`` (partner clocks drift a
    little; an event from the future would be priced before the rule effective then is known).
    """
    raw_type = str(message.get("eventType"))
    if raw_type not in PARTNER_EVENT_TYPES:
        raise InvalidPartnerEvent(
            "unsupported_event_type", f"{raw_type[:64]} is not a partner event"
        )
    event_type = PartnerEventType(raw_type)
    try:
        event_id = canonical_uuid(message["eventId"], "invalid_event_id", "eventId")
        player_id = canonical_uuid(message["user_id"], "invalid_player_id", "user_id")
        occurred_at = _occurred_at(message, now, max_ahead)
        nights: int | None = None
        amount: Decimal | None = None
        original_event_id: str | None = None
        if event_type.is_reversal:
            original_event_id = canonical_uuid(
                message["originalEventId"], "invalid_original_event_id", "originalEventId"
            )
            if original_event_id == event_id:
                raise InvalidPartnerEvent("invalid_reversal", "an event cannot reverse itself")
        else:
            nights, amount = _spend(event_type, message)
        reference = message.get("reference")
        correlation_id = message.get("correlationId")
        return PartnerEvent(
            event_id=event_id,
            event_type=event_type,
            player_id=player_id,
            occurred_at=occurred_at,
            partner_id=str(message["partnerId"]),
            reference=str(reference) if reference is not None else None,
            nights=nights,
            amount=amount,
            original_event_id=original_event_id,
            correlation_id=str(correlation_id) if correlation_id else None,
            payload=dict(message),
        )
    except KeyError as exc:
        raise InvalidPartnerEvent("schema_violation", f"{exc.args[0]} is missing") from None
    except (TypeError, ValueError) as exc:
        raise InvalidPartnerEvent("schema_violation", str(exc)[:200]) from None
