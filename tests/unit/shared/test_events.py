"""The event envelope and the JSON Schema contracts in docs/events."""

import json
from datetime import UTC, datetime

import pytest

from shared.application.events import IntegrationEvent, TokenRevocation, Topic, parse_timestamp
from shared.messaging.schemas import EventSchemaError, event_schemas


def registered(**data: object) -> IntegrationEvent:
    return IntegrationEvent(
        "PLAYER_REGISTERED",
        "2b1c7e3e-4a55-4b5b-8f8e-2f0a0b7c9d11",
        {"email": "p@example.com", "registeredAt": "2025-01-01T12:00:00Z", **data},
        occurred_at=datetime(2025, 1, 1, 12, tzinfo=UTC),
        correlation_id="req-1",
    )


def test_the_envelope_is_camel_case_with_the_data_inlined() -> None:
    message = registered().to_message()
    assert message["eventType"] == "PLAYER_REGISTERED"
    assert message["occurredAt"] == "2025-01-01T12:00:00.000Z"
    assert message["user_id"] == "2b1c7e3e-4a55-4b5b-8f8e-2f0a0b7c9d11"
    assert message["email"] == "p@example.com"
    event = registered()
    assert IntegrationEvent.from_message(json.loads(json.dumps(event.to_message()))) == event


def test_data_may_not_redefine_the_envelope() -> None:
    with pytest.raises(ValueError, match="eventId"):
        registered(eventId="x").to_message()


def test_valid_events_pass_their_schema() -> None:
    event_schemas().validate(registered().to_message())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"email": 5}, "email"),
        ({"unexpected": True}, "unexpected"),
        ({"eventType": "NOPE_UNKNOWN"}, "no schema"),
        ({"version": 2}, "no schema"),
        ({"eventId": "not-a-uuid"}, "eventId"),
        ({"registeredAt": "yesterday"}, "registeredAt"),
        ({"occurredAt": "2025-13-45T99:00:00Z"}, "occurredAt"),
    ],
)
def test_invalid_events_are_refused_with_a_reason(change: dict[str, object], fragment: str) -> None:
    message = {**registered().to_message(), **change}
    with pytest.raises(EventSchemaError, match=fragment):
        event_schemas().validate(message)


def test_every_topic_has_a_dead_letter_companion() -> None:
    assert Topic.PLAYERS.dead_letter == "players.dlq"
    assert len({t.dead_letter for t in Topic}) == len(Topic)


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-07T04:00:00Z",
        "2026-12-07t04:00:00z",
        "2026-12-07T05:00:00+01:00",
        "2026-12-07T04:00:00",
    ],
)
def test_timestamps_are_read_as_rfc_3339_allows(value: str) -> None:
    assert parse_timestamp(value) == datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_a_timestamp_without_a_utc_time_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp(value)


def test_an_event_id_is_read_in_its_canonical_form() -> None:
    message = registered().to_message()
    shouted = {**message, "eventId": message["eventId"].upper()}
    assert IntegrationEvent.from_message(shouted).event_id == message["eventId"]


def test_a_field_that_fails_its_rule_is_not_also_called_unexpected() -> None:
    with pytest.raises(EventSchemaError) as refused:
        event_schemas().validate({**registered().to_message(), "eventId": "not-a-uuid"})
    assert "eventId" in str(refused.value)
    assert "Unevaluated" not in str(refused.value)
    with pytest.raises(EventSchemaError) as unknown:  # alone, an unknown field is still named
        event_schemas().validate({**registered().to_message(), "surprise": 1})
    assert "surprise" in str(unknown.value)


def revocation(issued_before: str, expires_at: str) -> IntegrationEvent:
    data = {"role": "player", "reason": "PASSWORD_CHANGED"}
    data |= {"issuedBefore": issued_before, "expiresAt": expires_at}
    return IntegrationEvent("TOKENS_REVOKED", "p1", data)


def test_a_revocation_is_read_in_epoch_seconds() -> None:
    now = datetime(2026, 12, 7, 20, 0, 1, tzinfo=UTC).timestamp()
    read = TokenRevocation.of(
        revocation("2026-12-07T20:00:01.000Z", "2026-12-07T20:16:01.000Z"), now=now
    )
    assert (read.account, read.issued_before, read.until) == ("p1", int(now), int(now) + 960)


@pytest.mark.parametrize(
    ("issued_before", "expires_at", "fragment"),
    [
        # A forged or broken record would lock the account out everywhere until 2036.
        ("2036-01-01T00:00:00Z", "2036-01-01T00:16:00Z", "in the future"),
        ("2026-12-07T20:00:00Z", "2036-01-01T00:00:00Z", "more than a day"),
        ("yesterday", "2026-12-07T20:16:00Z", "Invalid isoformat"),
    ],
)
def test_an_implausible_revocation_is_refused(
    issued_before: str, expires_at: str, fragment: str
) -> None:
    now = datetime(2026, 12, 7, 20, 0, 1, tzinfo=UTC).timestamp()
    with pytest.raises(ValueError, match=fragment):
        TokenRevocation.of(revocation(issued_before, expires_at), now=now)
    # A minute of clock skew between auth and this process is allowed.
    TokenRevocation.of(revocation("2026-12-07T20:01:00Z", "2026-12-07T20:17:00Z"), now=now)
