"""Use cases with in-memory fakes: ingestion (once, then pushed), reading rules, account status."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from notification_service.application.live import CloseCode, LiveMessageKind
from notification_service.application.services import (
    AccountStatusService,
    NotificationIngestion,
    NotificationService,
    SourcedEvent,
)
from notification_service.application.sources import from_notification_event
from notification_service.domain.exceptions import InvalidNotification, NotificationNotFound
from notification_service.domain.model import AccountStatus
from shared.application.events import IntegrationEvent, TokenRevocation
from shared.domain.clock import FixedClock
from shared.domain.exceptions import DependencyUnavailable, PermissionDenied
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role
from tests.unit.notification.fakes import (
    InMemoryInactiveUsers,
    InMemoryNotificationRepository,
    RecordingLiveChannel,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
PROMOTION = {
    "promotionId": "p1",
    "playerPromotionId": "pp1",
    "title": "Welcome bonus",
    "type": "WELCOME_BONUS",
    "amount": "25.00",
    "startDate": "2025-01-01T00:00:00Z",
    "endDate": "2025-12-31T00:00:00Z",
}


def promotion_event(user_id: str = "player-1", **data: Any) -> SourcedEvent:
    event = IntegrationEvent(
        "PROMOTION",
        user_id,
        {"content": PROMOTION, "title": "A gift", **data},
        event_id=str(uuid.uuid4()),
        occurred_at=NOW,
    )
    return SourcedEvent("notifications", event)


@pytest.fixture
def repository() -> InMemoryNotificationRepository:
    return InMemoryNotificationRepository()


@pytest.fixture
def live() -> RecordingLiveChannel:
    return RecordingLiveChannel()


@pytest.fixture
def ingestion(
    repository: InMemoryNotificationRepository, live: RecordingLiveChannel
) -> NotificationIngestion:
    return NotificationIngestion(repository, live)


def player(subject: str = "player-1") -> Principal:
    return Principal(subject=subject, role=Role.PLAYER)


# -- ingestion ----------------------------------------------------------------------------------


def test_an_event_is_stored_unread_and_pushed(
    ingestion: NotificationIngestion, live: RecordingLiveChannel
) -> None:
    event = promotion_event(message="Enjoy")
    result = ingestion.ingest([event])
    assert (result.stored, result.duplicates, result.pushed) == (1, 0, True)
    [message] = live.published
    assert message.kind is LiveMessageKind.NOTIFICATION
    assert message.user_id == "player-1"
    frame = json.loads(message.frame())
    assert frame["type"] == "notification"
    body = frame["notification"]
    assert set(body) == {"id", "type", "content", "read", "createdAt", "title", "message"}
    assert body["type"] == "PROMOTION"
    assert body["content"] == PROMOTION
    assert body["read"] is False
    assert body["createdAt"] == "2025-05-01T12:00:00.000Z"
    assert (body["title"], body["message"]) == ("A gift", "Enjoy")


def test_a_player_id_in_capitals_is_stored_and_pushed_under_the_players_own(
    ingestion: NotificationIngestion,
    live: RecordingLiveChannel,
    repository: InMemoryNotificationRepository,
) -> None:
    # The wallet credits the player whatever the case of the id; the player must see it too.
    player_id = "7d2b3c1e-0f4a-4b5c-9d6e-1a2b3c4d5e6f"
    ingestion.ingest([promotion_event(player_id.upper())])
    [message] = live.published
    assert message.user_id == player_id
    service = NotificationService(repository, FixedClock(NOW))
    assert service.unread_count(player(player_id), None).count == 1


def test_a_redelivered_event_stores_and_pushes_nothing_new(
    ingestion: NotificationIngestion,
    repository: InMemoryNotificationRepository,
    live: RecordingLiveChannel,
) -> None:
    event = promotion_event()
    ingestion.ingest([event, event])
    result = ingestion.ingest([event])
    assert (result.stored, result.duplicates) == (0, 1)
    assert len(repository.by_id) == 1
    assert len(live.published) == 1


def reusing(sourced: SourcedEvent, user_id: str) -> SourcedEvent:
    """Another player's notification under the event id of ``sourced``."""
    event = sourced.event
    return SourcedEvent(
        sourced.topic,
        IntegrationEvent(
            event.event_type,
            user_id,
            dict(event.data),
            event_id=event.event_id,
            occurred_at=event.occurred_at,
        ),
    )


@pytest.mark.parametrize("first", ["real", "reusing"])
def test_an_event_id_reused_for_another_notification_is_refused_not_ignored(
    ingestion: NotificationIngestion,
    repository: InMemoryNotificationRepository,
    live: RecordingLiveChannel,
    caplog: pytest.LogCaptureFixture,
    first: str,
) -> None:
    real = promotion_event("player-1")
    other = reusing(real, "player-2")
    batch = [real, other] if first == "real" else [other, real]
    with caplog.at_level(logging.WARNING):
        result = ingestion.ingest([*batch, batch[0]])  # the first one redelivered
    # The first stored keeps the id; the other is refused, whichever came first; the
    # redelivery is a duplicate.
    assert (result.stored, result.duplicates, list(result.conflicts)) == (1, 1, [1])
    assert "another user's" in result.conflicts[1]
    [kept] = repository.by_id.values()
    assert kept.user_id == batch[0].event.user_id
    assert [m.user_id for m in live.published] == [kept.user_id]
    assert [r.getMessage() for r in caplog.records] == ["notification_event_id_conflict"]
    # In a later batch too.
    later = ingestion.ingest([batch[1], batch[0]])
    assert (later.stored, later.duplicates, list(later.conflicts)) == (0, 1, [0])


def test_the_same_event_id_with_other_content_is_refused(
    ingestion: NotificationIngestion,
) -> None:
    real = promotion_event()
    changed = IntegrationEvent(
        "PROMOTION",
        "player-1",
        {"content": {**PROMOTION, "amount": "999.00"}},
        event_id=real.event.event_id,
        occurred_at=NOW,
    )
    ingestion.ingest([real])
    result = ingestion.ingest([SourcedEvent("notifications", changed)])
    assert (result.stored, result.duplicates, list(result.conflicts)) == (0, 0, [0])
    assert "different" in result.conflicts[0]


def test_a_push_failure_keeps_the_notification_stored(
    ingestion: NotificationIngestion,
    repository: InMemoryNotificationRepository,
    live: RecordingLiveChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    live.down = True
    with caplog.at_level(logging.WARNING):
        result = ingestion.ingest([promotion_event()])
    assert (result.stored, result.pushed) == (1, False)
    assert len(repository.by_id) == 1
    # One event name to search for; what went wrong is a field of it.
    [warning] = caplog.records
    assert warning.getMessage() == "live_push_failed"
    assert warning.stored == 1  # type: ignore[attr-defined]
    assert warning.error  # type: ignore[attr-defined]


def test_an_event_without_content_is_not_a_notification(ingestion: NotificationIngestion) -> None:
    event = IntegrationEvent("PROMOTION", "player-1", {"title": "no content"})
    with pytest.raises(InvalidNotification):
        ingestion.ingest([SourcedEvent("notifications", event)])


def test_a_bad_event_in_a_batch_stores_nothing_of_the_batch(
    ingestion: NotificationIngestion, repository: InMemoryNotificationRepository
) -> None:
    bad = SourcedEvent("notifications", IntegrationEvent("PROMOTION", "p", {"content": "text"}))
    with pytest.raises(InvalidNotification):
        ingestion.ingest([promotion_event(), bad])
    assert repository.by_id == {}


def test_events_of_an_unmapped_topic_are_refused(ingestion: NotificationIngestion) -> None:
    event = promotion_event()
    with pytest.raises(InvalidNotification):
        ingestion.ingest([SourcedEvent("players", event.event)])


def test_a_new_source_is_one_entry_in_the_table(
    repository: InMemoryNotificationRepository, live: RecordingLiveChannel
) -> None:
    ingestion = NotificationIngestion(
        repository, live, sources={"reward-confirmed": from_notification_event}
    )
    ingestion.ingest([SourcedEvent("reward-confirmed", promotion_event().event)])
    assert len(repository.by_id) == 1


def test_a_title_that_is_not_text_is_refused(ingestion: NotificationIngestion) -> None:
    with pytest.raises(InvalidNotification):
        ingestion.ingest([promotion_event(title=42)])


# -- reading ------------------------------------------------------------------------------------


@pytest.fixture
def service(repository: InMemoryNotificationRepository) -> NotificationService:
    return NotificationService(repository, FixedClock(NOW))


def test_a_player_lists_their_own_notifications_newest_first(
    ingestion: NotificationIngestion, service: NotificationService
) -> None:
    ingestion.ingest([promotion_event(), promotion_event(), promotion_event("player-2")])
    result = service.list(player(), None, unread_only=False, page=PageRequest(1, 1))
    assert result.user_id == "player-1"
    assert result.page.total == 2
    assert len(result.page.items) == 1


def test_a_player_cannot_read_another_players_notifications(
    service: NotificationService,
) -> None:
    with pytest.raises(PermissionDenied):
        service.list(player(), "player-2", unread_only=False, page=PageRequest())
    with pytest.raises(PermissionDenied):
        service.unread_count(player(), "player-2")


def test_staff_may_read_a_players_notifications(
    ingestion: NotificationIngestion, service: NotificationService
) -> None:
    ingestion.ingest([promotion_event("player-2")])
    staff = Principal(subject="staff-1", role=Role.STAFF)
    assert service.unread_count(staff, "player-2").count == 1
    assert service.list(staff, "player-2", True, PageRequest()).page.total == 1


def password_changed(user_id: str, role: str | None) -> SourcedEvent:
    data: dict[str, Any] = {"content": {"changedAt": "2025-05-01T12:00:00.000Z"}}
    if role is not None:
        data["role"] = role
    return SourcedEvent("notifications", IntegrationEvent("PASSWORD_CHANGED", user_id, data))


@pytest.mark.parametrize("reader_role", [Role.STAFF, Role.ADMIN])
def test_staff_and_administrators_read_only_notifications_addressed_to_players(
    ingestion: NotificationIngestion, service: NotificationService, reader_role: Role
) -> None:
    ingestion.ingest(
        [
            password_changed("admin-2", "admin"),
            password_changed("staff-2", "staff"),
            # From before the role was named: not taken for a player's.
            password_changed("someone", None),
            password_changed("player-2", "player"),
            promotion_event("player-2"),
        ]
    )
    reader = Principal(subject="reader-1", role=reader_role)
    for other in ("admin-2", "staff-2", "someone"):
        # As for an id of no player: nothing, and nothing unread.
        listed = service.list(reader, other, False, PageRequest())
        assert (listed.page.total, listed.page.items) == (0, []), other
        assert service.unread_count(reader, other).count == 0, other
    assert service.list(reader, "player-2", False, PageRequest()).page.total == 2
    assert service.unread_count(reader, "player-2").count == 2
    # Their owners read them.
    for owner, role in (("admin-2", Role.ADMIN), ("staff-2", Role.STAFF)):
        principal = Principal(subject=owner, role=role)
        assert service.list(principal, None, False, PageRequest()).page.total == 1
        assert service.list(principal, owner, False, PageRequest()).page.total == 1
        assert service.unread_count(principal, None).count == 1


def test_a_partner_client_cannot_read_notifications(service: NotificationService) -> None:
    client = Principal(subject="hotel", scopes=frozenset({"rewards.read"}))
    with pytest.raises(PermissionDenied):
        service.list(client, "player-1", unread_only=False, page=PageRequest())


def test_marking_read_changes_the_unread_count_once(
    ingestion: NotificationIngestion, service: NotificationService
) -> None:
    ingestion.ingest([promotion_event(), promotion_event()])
    first = service.list(player(), None, True, PageRequest()).page.items[0]
    marked = service.mark_read(player(), first.id)
    assert marked.read
    assert marked.read_at == NOW
    assert service.mark_read(player(), first.id).read
    assert service.unread_count(player(), None).count == 1
    assert service.list(player(), None, True, PageRequest()).page.total == 1


def test_a_player_cannot_mark_another_players_notification(
    ingestion: NotificationIngestion,
    service: NotificationService,
    repository: InMemoryNotificationRepository,
) -> None:
    ingestion.ingest([promotion_event("player-2")])
    [theirs] = repository.by_id.values()
    with pytest.raises(NotificationNotFound):
        service.mark_read(player(), theirs.id)
    with pytest.raises(NotificationNotFound):
        service.mark_read(player(), "not-an-id")
    assert not theirs.read


def test_mark_all_read_counts_what_changed(
    ingestion: NotificationIngestion, service: NotificationService
) -> None:
    ingestion.ingest([promotion_event(), promotion_event(), promotion_event("player-2")])
    assert service.mark_all_read(player()).count == 2
    assert service.mark_all_read(player()).count == 0
    assert service.unread_count(player(), None).count == 0
    assert service.unread_count(Principal("s", Role.ADMIN), "player-2").count == 1


# -- account status -----------------------------------------------------------------------------


def test_deactivation_refuses_the_user_and_closes_their_sockets(
    live: RecordingLiveChannel,
) -> None:
    inactive = InMemoryInactiveUsers()
    AccountStatusService(inactive, live).apply("player-1", AccountStatus.INACTIVE)
    assert inactive.is_inactive("player-1")
    [message] = live.published
    assert message.kind is LiveMessageKind.CLOSE
    assert (message.user_id, message.close_code) == ("player-1", CloseCode.FORBIDDEN)


def test_a_revocation_refuses_older_tokens_and_closes_the_sockets_opened_with_them(
    live: RecordingLiveChannel,
) -> None:
    accounts = InMemoryInactiveUsers()
    AccountStatusService(accounts, live).revoke(TokenRevocation("player-1", 1_001, 2_000))
    assert accounts.tokens_revoked("player-1", 1_000)
    assert not accounts.tokens_revoked("player-1", 1_001)
    [message] = live.published
    assert (message.kind, message.user_id, message.issued_before) == (
        LiveMessageKind.CLOSE,
        "player-1",
        1_001,
    )
    assert message.close_code == CloseCode.UNAUTHENTICATED


def test_reactivation_lets_the_user_in_again(live: RecordingLiveChannel) -> None:
    inactive = InMemoryInactiveUsers()
    service = AccountStatusService(inactive, live)
    service.apply("player-1", AccountStatus.INACTIVE)
    service.apply("player-1", AccountStatus.ACTIVE)
    assert not inactive.is_inactive("player-1")
    assert len(live.published) == 1


def test_a_deactivation_that_cannot_close_sockets_fails_so_it_is_retried(
    live: RecordingLiveChannel,
) -> None:
    live.down = True
    with pytest.raises(DependencyUnavailable):
        AccountStatusService(InMemoryInactiveUsers(), live).apply(
            "player-1", AccountStatus.INACTIVE
        )


def test_a_replayed_older_deactivation_neither_refuses_nor_closes(
    live: RecordingLiveChannel,
) -> None:
    inactive = InMemoryInactiveUsers()
    service = AccountStatusService(inactive, live)
    deactivated = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)
    service.apply("player-1", AccountStatus.INACTIVE, as_of=deactivated)
    service.apply("player-1", AccountStatus.ACTIVE, as_of=deactivated + timedelta(minutes=1))
    service.apply("player-1", AccountStatus.INACTIVE, as_of=deactivated)  # read again
    assert not inactive.is_inactive("player-1")
    assert len(live.published) == 1  # the sockets were closed once, for the real deactivation
