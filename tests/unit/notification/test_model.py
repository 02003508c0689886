"""Notification drafts refuse what cannot be stored; a notification is read once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notification_service.domain.exceptions import InvalidNotification
from notification_service.domain.model import Notification, NotificationDraft

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def draft(**changes: Any) -> NotificationDraft:
    values: dict[str, Any] = {
        "user_id": "player-1",
        "type": "PROMOTION",
        "event_id": "e-1",
        "created_at": NOW,
        "content": {"title": "Welcome", "amount": "10.00", "nested": {"list": [1, {"a": "b"}]}},
    }
    values.update(changes)
    return NotificationDraft(**values)


def test_a_well_formed_draft_is_accepted() -> None:
    assert draft().content["nested"] == {"list": [1, {"a": "b"}]}


@pytest.mark.parametrize(
    "changes",
    [
        {"user_id": ""},
        {"user_id": "x" * 65},
        {"type": ""},
        {"event_id": ""},
        {"created_at": datetime(2025, 5, 1, 12, 0)},
        {"title": "t" * 201},
        {"message": "m" * 1001},
        {"content": {"$where": "1"}},
        {"content": {"deep": {"list": [{"$set": 1}]}}},
        {"content": {"": "empty key"}},
        {"content": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}},
    ],
)
def test_a_draft_that_cannot_be_stored_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidNotification):
        draft(**changes)


def test_marking_read_keeps_the_first_time() -> None:
    notification = Notification.from_draft("n1", draft())
    assert not notification.read
    assert notification.mark_read(NOW) is True
    assert notification.mark_read(NOW + timedelta(hours=1)) is False
    assert notification.read_at == NOW
    assert notification.belongs_to("player-1")
    assert not notification.belongs_to("player-2")


def test_a_redelivered_draft_repeats_the_stored_notification() -> None:
    stored = Notification.from_draft("n1", draft(created_at=NOW.replace(microsecond=123456)))
    # Stores keep times to the millisecond; title and message are this service's wording.
    stored.created_at = NOW.replace(microsecond=123000)
    assert draft(created_at=NOW.replace(microsecond=123456), title="New words").repeats(stored)


@pytest.mark.parametrize(
    "changes",
    [
        {"user_id": "player-2"},
        {"type": "BONUS_CREDITED"},
        {"created_at": NOW + timedelta(milliseconds=1)},
        {"content": {"title": "Welcome", "amount": "99.00"}},
    ],
)
def test_another_notification_with_the_same_event_id_does_not_repeat_it(
    changes: dict[str, Any],
) -> None:
    assert not draft(**changes).repeats(Notification.from_draft("n1", draft()))
