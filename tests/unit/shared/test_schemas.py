"""The merged (flattened) event schemas accept and refuse exactly what the published ones do."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from shared.messaging.schemas import DEFAULT_SCHEMA_DIR, ENVELOPE_FILE, flatten

SCHEMAS = sorted(p for p in DEFAULT_SCHEMA_DIR.glob("*.schema.json") if p.name != ENVELOPE_FILE)
ENVELOPE = json.loads((DEFAULT_SCHEMA_DIR / ENVELOPE_FILE).read_text())


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def published_validator(document: dict[str, Any]) -> Draft202012Validator:
    resource = Resource.from_contents(ENVELOPE)
    registry: Registry[Any] = Registry().with_resources(
        [(ENVELOPE_FILE, resource), (ENVELOPE["$id"], resource)]
    )
    return Draft202012Validator(document, registry=registry, format_checker=FormatChecker())


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
    envelope("USER_STATUS_CHANGED", status="INACTIVE", role="player", changedBy="admin-1"),
    envelope("PLAYER_REGISTERED", email="p@example.com", registeredAt="2026-01-01T10:00:00Z"),
]


def variants(document: dict[str, Any]) -> list[Any]:
    """The document and ways of breaking it: every kind of rule the schemas state."""
    out: list[Any] = [document, [document], "text", None]
    for name in list(document):
        missing = dict(document)
        del missing[name]
        out.append(missing)
        values: list[Any] = [None, 7, "x", -1, 10**12, True, {"a": 1}, [], "2026-13-01T00:00"]
        out.extend({**document, name: value} for value in values)
    out.append({**document, "unexpected": 1})
    out.append({**document, "eventType": "lowercase"})
    out.append({**document, "version": 2})
    return out


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_every_published_schema_has_the_shape_that_can_be_merged(path: Path) -> None:
    assert flatten(load(path), ENVELOPE) is not None


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_the_merged_schema_agrees_with_the_published_one(path: Path) -> None:
    document = load(path)
    event_type = path.name.split(".v")[0]
    published = published_validator(document)
    flat = flatten(copy.deepcopy(document), ENVELOPE)
    assert flat is not None
    merged = Draft202012Validator(flat, format_checker=FormatChecker())
    candidates = [c for base in VALID for c in variants({**base, "eventType": event_type})]
    verdicts = [(published.is_valid(c), merged.is_valid(c)) for c in candidates]
    assert all(a == b for a, b in verdicts)


def test_a_valid_example_is_accepted_by_both() -> None:
    for document in VALID:
        path = DEFAULT_SCHEMA_DIR / f"{document['eventType']}.v1.schema.json"
        schema = load(path)
        assert published_validator(schema).is_valid(document)
        merged = flatten(schema, ENVELOPE)
        assert merged is not None
        assert Draft202012Validator(merged, format_checker=FormatChecker()).is_valid(document)


def test_an_unusual_shape_is_left_as_published() -> None:
    conditional = {
        "allOf": [{"$ref": ENVELOPE_FILE}],
        "if": {"required": ["a"]},
        "then": {"required": ["b"]},
        "unevaluatedProperties": False,
    }
    assert flatten(conditional, ENVELOPE) is None
    assert flatten({"allOf": [{"$ref": "other.json"}]}, ENVELOPE) is None
