"""The MongoDB repository against the wire server: batches once per event, reads by user."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from notification_service.adapters.mongo import (
    MongoNotificationRepository,
    NotificationDocument,
    complete_recipient_roles,
    ensure_indexes,
    verify_indexes,
)
from notification_service.application.services import NotificationService
from notification_service.container import Container
from notification_service.domain.exceptions import UnknownPageAnchor
from notification_service.domain.model import NotificationDraft
from shared.domain.clock import Clock
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def repository(notification_container: Container) -> MongoNotificationRepository:
    return notification_container.notifications()


def draft(user_id: str = "player-1", minutes: int = 0, **changes: object) -> NotificationDraft:
    values: dict[str, object] = {
        "user_id": user_id,
        "type": "PROMOTION",
        "event_id": str(uuid.uuid4()),
        "created_at": T0 + timedelta(minutes=minutes),
        "content": {"promotionId": "p1", "amount": "25.00", "nested": {"list": [1, {"a": "b"}]}},
        "title": "Welcome",
    }
    values.update(changes)
    return NotificationDraft(**values)  # type: ignore[arg-type]


def test_a_batch_is_stored_once_per_event(repository: MongoNotificationRepository) -> None:
    first, second = draft(), draft(minutes=1)
    stored = repository.add_new([first, second, first]).stored
    assert [n.event_id for n in stored] == [first.event_id, second.event_id]
    again = repository.add_new([second, draft(minutes=2)])
    assert (len(again.stored), again.conflicts) == (1, [])
    assert NotificationDocument.objects.count() == 3


def test_a_notification_reads_back_as_it_was_stored(
    repository: MongoNotificationRepository,
) -> None:
    [stored] = repository.add_new([draft(message="Enjoy")]).stored
    loaded = repository.get("player-1", stored.id)
    assert loaded is not None
    assert loaded.content == {
        "promotionId": "p1",
        "amount": "25.00",
        "nested": {"list": [1, {"a": "b"}]},
    }
    assert (loaded.type, loaded.title, loaded.message) == ("PROMOTION", "Welcome", "Enjoy")
    assert loaded.created_at == T0
    assert loaded.read is False
    assert loaded.read_at is None
    # The batch insert writes what the declared document describes.
    NotificationDocument.objects.get(event_id=stored.event_id).validate()


def test_a_notification_is_only_found_by_its_owner_and_a_valid_id(
    repository: MongoNotificationRepository,
) -> None:
    [stored] = repository.add_new([draft()]).stored
    assert repository.get("player-2", stored.id) is None
    assert repository.get("player-1", "not-an-object-id") is None
    assert repository.get("player-1", "abcdefghijkl") is None
    assert repository.get("player-1", "0" * 24) is None


def test_listing_is_newest_first_paginated_and_filters_unread(
    repository: MongoNotificationRepository,
) -> None:
    stored = repository.add_new([draft(minutes=m) for m in range(5)] + [draft("player-2")]).stored
    newest_first = [n.id for n in reversed(stored[:5])]
    page = repository.list("player-1", unread_only=False, page=PageRequest(page=2, page_size=2))
    assert page.total == 5
    assert [n.id for n in page.items] == newest_first[2:4]

    read = stored[4]
    read.mark_read(T0 + timedelta(hours=1))
    repository.save_read_state(read)
    unread = repository.list("player-1", unread_only=True, page=PageRequest(page_size=10))
    assert unread.total == 4
    assert read.id not in [n.id for n in unread.items]
    assert repository.count_unread("player-1") == 4
    assert repository.count_unread("player-2") == 1
    assert repository.count_unread("nobody") == 0


def test_read_state_survives_a_reload_and_keeps_the_first_time(
    repository: MongoNotificationRepository,
) -> None:
    [stored] = repository.add_new([draft()]).stored
    first = T0 + timedelta(hours=1)
    stored.mark_read(first)
    repository.save_read_state(stored)
    again = repository.get("player-1", stored.id)
    assert again is not None
    assert again.read is True
    assert again.read_at == first
    again.read_at = first + timedelta(hours=1)
    assert repository.save_read_state(again).read_at == first
    reloaded = repository.get("player-1", stored.id)
    assert reloaded is not None
    assert reloaded.read_at == first


class ClockAfterEveryRead(Clock):
    """Holds each caller until all of them have read the notification, then gives each its
    own time: every request has seen it unread before any of them writes."""

    def __init__(self, callers: int) -> None:
        self._barrier = threading.Barrier(callers)

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self._barrier.wait(timeout=20))


def test_requests_marking_one_notification_at_once_all_answer_the_stored_time(
    repository: MongoNotificationRepository,
) -> None:
    [stored] = repository.add_new([draft()]).stored
    devices = 8
    service = NotificationService(repository, ClockAfterEveryRead(devices))
    player = Principal(subject="player-1", role=Role.PLAYER)
    with ThreadPoolExecutor(devices) as pool:
        answers = list(pool.map(lambda _: service.mark_read(player, stored.id), range(devices)))
    kept = repository.get("player-1", stored.id)
    assert kept is not None
    assert kept.read_at is not None
    assert [answer.read_at for answer in answers] == [kept.read_at] * devices


def test_mark_all_read_touches_only_the_users_unread_ones(
    repository: MongoNotificationRepository,
) -> None:
    repository.add_new([draft(), draft(minutes=1), draft("player-2")])
    assert repository.mark_all_read("player-1", T0) == 2
    assert repository.mark_all_read("player-1", T0) == 0
    assert repository.count_unread("player-1") == 0
    assert repository.count_unread("player-2") == 1


def test_the_indexes_the_queries_need_exist(notification_container: Container) -> None:
    indexes = list(NotificationDocument._get_collection().list_indexes())
    keys = [list(index["key"].keys()) for index in indexes]
    assert ["event_id"] in keys
    assert ["user_id", "created_at"] in keys
    assert ["user_id", "read", "created_at"] in keys
    unique = [list(i["key"].keys()) for i in indexes if i.get("unique")]
    assert ["event_id"] in unique


def test_the_worker_refuses_a_collection_without_the_unique_index(
    notification_container: Container,
) -> None:
    database = notification_container.mongo()
    verify_indexes(database)
    NotificationDocument._get_collection().drop_indexes()
    try:
        with pytest.raises(RuntimeError, match="manage migrate"):
            verify_indexes(database)
    finally:
        ensure_indexes(database)
    verify_indexes(database)


def test_others_read_only_notifications_addressed_to_players(
    repository: MongoNotificationRepository,
) -> None:
    players, admins = repository.add_new(
        [
            draft("someone", minutes=1, type="PASSWORD_CHANGED", recipient_role="player"),
            draft("someone", minutes=2, type="PASSWORD_CHANGED", recipient_role="admin"),
        ]
    ).stored
    page = PageRequest(page_size=10)
    assert [n.id for n in repository.list("someone", False, page, players_only=True).items] == [
        players.id
    ]
    assert repository.count_unread("someone", players_only=True) == 1
    assert repository.count_unread("someone") == 2
    assert repository.list("someone", False, page).total == 2
    # Nor is a hidden one a page anchor for them.
    with pytest.raises(UnknownPageAnchor):
        repository.list("someone", False, page, before=admins.id, players_only=True)
    loaded = repository.get("someone", admins.id)
    assert loaded is not None
    assert not loaded.addressed_to_player


def test_older_documents_get_the_recipients_role_their_type_implies(
    repository: MongoNotificationRepository,
) -> None:
    collection = NotificationDocument._get_collection()
    stored = repository.add_new(
        [draft("legacy", minutes=1), draft("legacy", minutes=2, type="PASSWORD_CHANGED")]
    ).stored
    # As stored before the role was recorded.
    collection.update_many({"user_id": "legacy"}, {"$unset": {"recipient_role": ""}})
    assert repository.list("legacy", False, PageRequest(), players_only=True).total == 0
    assert complete_recipient_roles() == 1
    assert complete_recipient_roles() == 0  # idempotent
    shown = repository.list("legacy", False, PageRequest(), players_only=True).items
    # A promotion is a player's; a password change may have been an administrator's.
    assert [n.id for n in shown] == [stored[0].id]
    assert repository.list("legacy", False, PageRequest()).total == 2


@pytest.mark.parametrize("first", ["real", "reusing"])
def test_an_event_id_reused_for_another_notification_is_a_conflict_in_either_order(
    repository: MongoNotificationRepository, first: str
) -> None:
    real = draft("player-1")
    reusing = draft("player-2", event_id=real.event_id)
    batch = [real, reusing] if first == "real" else [reusing, real]
    added = repository.add_new([*batch, batch[0]])  # the first one redelivered in the batch
    assert [n.user_id for n in added.stored] == [batch[0].user_id]
    assert [(c.index, c.draft.user_id, c.stored.user_id) for c in added.conflicts] == [
        (1, batch[1].user_id, batch[0].user_id)
    ]
    # Across batches too; an exact redelivery is still nothing.
    again = repository.add_new([batch[1], batch[0]])
    assert (again.stored, [c.index for c in again.conflicts]) == ([], [0])
    assert NotificationDocument.objects(event_id=real.event_id).count() == 1


def test_a_redelivery_is_no_conflict_though_the_store_keeps_milliseconds(
    repository: MongoNotificationRepository,
) -> None:
    precise = draft(created_at=T0.replace(microsecond=123456), content={"n": 1, "x": [1.5]})
    assert len(repository.add_new([precise]).stored) == 1
    again = repository.add_new([precise])
    assert (again.stored, again.conflicts) == ([], [])
    other_content = draft(event_id=precise.event_id, content={"n": 2, "x": [1.5]})
    assert [c.index for c in repository.add_new([other_content]).conflicts] == [0]
