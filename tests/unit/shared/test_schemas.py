"""The event schemas as the platform checks them (jsonschema-rs) accept and refuse exactly what
the reference implementation (``jsonschema``, Draft 2020-12 with formats) does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from shared.messaging.schemas import (
    DEFAULT_SCHEMA_DIR,
    ENVELOPE_FILE,
    EventSchemaError,
    event_schemas,
)

SCHEMAS = sorted(p for p in DEFAULT_SCHEMA_DIR.glob("*.schema.json") if p.name != ENVELOPE_FILE)
ENVELOPE = json.loads((DEFAULT_SCHEMA_DIR / ENVELOPE_FILE).read_text())


def reference_validator(path: Path) -> Draft202012Validator:
    resource = Resource.from_contents(ENVELOPE)
    registry: Registry[Any] = Registry().with_resources(
        [(ENVELOPE_FILE, resource), (ENVELOPE["$id"], resource)]
    )
    return Draft202012Validator(
        json.loads(path.read_text()), registry=registry, format_checker=FormatChecker()
    )


def envelope(event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "version": 1,
        "occurredAt": "2026-01-01T10:00:00.000Z",
        "correlationId": None,
        "user_id": "player-1",
        **fields,
    }


VALID = [
    envelope(
        "REWARD_CONFIRMED",
        pointsAwarded=-25,
        sourceEventId=str(uuid.uuid4()),
        sourceEventType="DINING_REVERSED",
        ruleVersion=2,
        partnerId="dining",
        reference="check-1",
    ),
    envelope(
        "REDEEM_REQUESTED",
        redeemRequestId=str(uuid.uuid4()),
        points=500,
        rewardDescription="Dinner for two",
        merchant={"partnerId": "dining", "location": "Steakhouse"},
        requestedBy="dining",
    ),
    envelope(
        "REDEMPTION_REJECTED",
        redeemRequestId=str(uuid.uuid4()),
        status="REJECTED",
        points=500,
        pointsBalance=-20,
        reason="INSUFFICIENT_POINTS",
        message="Not enough points.",
    ),
    envelope("USER_STATUS_CHANGED", status="INACTIVE", role="player", changedBy="admin-1"),
    envelope("PLAYER_REGISTERED", email="p@example.com", registeredAt="2026-01-01T10:00:00Z"),
]


def variants(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document and ways of breaking it: every kind of rule the schemas state."""
    out: list[dict[str, Any]] = [document]
    for name in list(document):
        missing = dict(document)
        del missing[name]
        out.append(missing)
        values: list[Any] = [None, 7, "x", -1, 10**12, True, {"a": 1}, [], "2026-13-01T00:00"]
        out.extend({**document, name: value} for value in values)
    out.append({**document, "unexpected": 1})
    out.append({**document, "merchant": {"partnerId": "d", "table": 4}})
    return out


def accepted(document: dict[str, Any]) -> bool:
    try:
        event_schemas().validate(document)
    except EventSchemaError:
        return False
    return True


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_the_platform_agrees_with_the_reference_validator(path: Path) -> None:
    event_type = path.name.split(".v")[0]
    reference = reference_validator(path)
    candidates = [c for base in VALID for c in variants({**base, "eventType": event_type})]
    disagreements = [c for c in candidates if reference.is_valid(c) != accepted(c)]
    assert disagreements == []


def test_valid_examples_are_accepted_and_their_breakages_refused() -> None:
    for document in VALID:
        assert accepted(document)
        assert not accepted({**document, "unexpected": 1})
        assert not accepted({**document, "eventId": "not-a-uuid"})


def test_a_refusal_names_where_the_problem_is() -> None:
    document = {**VALID[0], "pointsAwarded": "5", "occurredAt": "yesterday"}
    with pytest.raises(EventSchemaError) as refused:
        event_schemas().validate(document)
    assert "occurredAt" in str(refused.value)
    assert "pointsAwarded" in str(refused.value)


@pytest.mark.parametrize("event_type", ["REDEMPTION_CONFIRMED", "REDEMPTION_REJECTED"])
def test_a_redemptions_outcome_has_the_bounds_of_its_request_and_of_a_balance(
    event_type: str,
) -> None:
    # Points past them passed the schema and then failed to be stored (MongoDB's integers are
    # 64 bits): retried three times and dead-lettered as processing_failed with a traceback.
    rejected = next(d for d in VALID if d["eventType"] == "REDEMPTION_REJECTED")
    document = {**rejected, "eventType": event_type, "status": event_type.split("_")[1]}
    if event_type == "REDEMPTION_CONFIRMED":
        del document["reason"], document["message"]
    document["pointsBalance"] = 0
    assert accepted({**document, "points": 10_000_000})
    assert not accepted({**document, "points": 10_000_001})
    assert not accepted({**document, "points": 10**30})
    assert accepted({**document, "pointsBalance": 2**63 - 1})
    assert not accepted({**document, "pointsBalance": 2**63})
