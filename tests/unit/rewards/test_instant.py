"""Date-times in the rewards API: RFC 3339 as the event schemas take it, nothing looser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import Schema, ValidationError

from rewards_service.controllers.schemas import Instant


class Window(Schema):
    start = Instant(data_key="from")


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01t00:00:00z",
        "2026-01-01T01:00:00+01:00",
        "2026-01-01T00:00:00.000Z",
    ],
)
def test_rfc_3339_date_times_are_taken(text: str) -> None:
    assert Window().load({"from": text})["start"] == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-W01-4T00:00:00Z",  # ISO week date
        "20260101T000000Z",  # no separators
        "2026-01-01 00:00:00Z",  # a space for T
        "2026-01-01T00:00:00+01",  # an hour-only offset
        "2026-01-01T00:00:00",  # no offset
        "2026-01-01",
        "1999-12-31T23:59:59Z",  # before the bound
    ],
)
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        Window().load({"from": text})
