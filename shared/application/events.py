"""The integration event envelope every service publishes and consumes (ARCHITECTURE §3)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.domain.principal import CLIENT_ROLE, account_key


class Topic(StrEnum):
    PLAYERS = "players"
    USER_STATUS = "user-status"
    NOTIFICATIONS = "notifications"
    REWARD_EVENTS = "reward-events"
    REWARD_CONFIRMED = "reward-confirmed"
    REDEEM_EVENTS = "redeem-events"
    REDEEM_CONFIRMED = "redeem-confirmed"

    @property
    def dead_letter(self) -> str:
        return f"{self.value}.dlq"


ENVELOPE_FIELDS = frozenset(
    {"eventId", "eventType", "version", "occurredAt", "correlationId", "user_id"}
)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix, millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp; "t" and "z" may be lower case (§5.6), as the schemas'
    ``date-time`` format lets through. A naive one is taken as UTC."""
    moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment.astimezone(UTC)  # 0001-01-01T00:00:00+01:00 has no UTC time
    except OverflowError:
        raise ValueError(f"timestamp {value[:40]!r} is out of range") from None
    return moment


def dead_letter_headers(
    *,
    reason: str,
    detail: str,
    topic: str,
    group: str,
    failed_at: datetime,
    partition: int | None = None,
    offset: int | None = None,
) -> dict[str, str]:
    """The headers that say why a record was dead-lettered and where it came from (the
    coordinates when it was refused as delivered; a record refused later has none)."""
    headers = {
        "dlq-reason": reason,
        "dlq-error": detail[:2000],
        "dlq-original-topic": topic,
        "dlq-consumer-group": group,
        "dlq-failed-at": failed_at.astimezone(UTC).isoformat(),
    }
    if partition is not None and offset is not None:
        headers["dlq-original-partition"] = str(partition)
        headers["dlq-original-offset"] = str(offset)
    return headers


@dataclass(frozen=True, slots=True)
class IntegrationEvent:
    """One event on a topic: envelope fields plus its type-specific ``data`` (camelCase keys)."""

    event_type: str
    user_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    version: int = 1
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = None

    def to_message(self) -> dict[str, Any]:
        """The JSON document published on Kafka: the envelope with the data fields inlined."""
        message: dict[str, Any] = {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "version": self.version,
            "occurredAt": format_timestamp(self.occurred_at),
            "correlationId": self.correlation_id,
            "user_id": self.user_id,
        }
        for key, value in self.data.items():
            if key in ENVELOPE_FIELDS:
                raise ValueError(f"event data may not redefine envelope field {key!r}")
            message[key] = value
        return message

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> IntegrationEvent:
        """Rebuild an event from a document that already passed schema validation.

        The id is written in its canonical form (lower case): the same event written in
        capitals by one producer is the same event, for a store that compares text too."""
        return cls(
            event_id=str(uuid.UUID(str(message["eventId"]))),
            event_type=str(message["eventType"]),
            version=int(message["version"]),
            occurred_at=parse_timestamp(str(message["occurredAt"])),
            correlation_id=message.get("correlationId"),
            user_id=str(message["user_id"]),
            data={k: v for k, v in message.items() if k not in ENVELOPE_FIELDS},
        )


#: ``user-status``: an account's tokens issued before a moment are refused (ADR 0021)
TOKENS_REVOKED = "TOKENS_REVOKED"


#: How far ahead of this clock a revocation's ``issuedBefore`` may be (the clocks differ).
REVOCATION_SKEW_SECONDS = 60
#: The longest a revocation is kept: access tokens live minutes.
REVOCATION_MAX_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class TokenRevocation:
    """What a ``TOKENS_REVOKED`` says: the account's tokens issued before ``issued_before``
    are refused until ``until`` (epoch seconds), when they have all expired."""

    account: str
    issued_before: int
    until: int

    @classmethod
    def of(cls, event: IntegrationEvent, now: float | None = None) -> TokenRevocation:
        """Raises ValueError when a timestamp is unreadable (the schema checks the rest) or
        implausible: a revocation refuses tokens already issued — ``issuedBefore`` more than a
        minute ahead of ``now`` (clock skew) would lock the account out of every service until
        then, whatever its owner or an administrator did — and is kept only while they live
        (``expiresAt`` at most a day after ``issuedBefore``)."""
        issued_before = int(parse_timestamp(str(event.data.get("issuedBefore"))).timestamp())
        until = int(parse_timestamp(str(event.data.get("expiresAt"))).timestamp())
        if issued_before > (time.time() if now is None else now) + REVOCATION_SKEW_SECONDS:
            raise ValueError("issuedBefore is in the future")
        if until - issued_before > REVOCATION_MAX_SECONDS:
            raise ValueError("expiresAt is more than a day after issuedBefore")
        return cls(status_account(event), issued_before, until)


def status_account(event: IntegrationEvent) -> str:
    """The account a ``USER_STATUS_CHANGED`` is about: a user, or a partner or internal client
    (role ``client``), keyed as resource servers look them up."""
    return account_key(event.user_id, client=event.data.get("role") == CLIENT_ROLE)
