"""Promotion and welcome use cases with in-memory adapters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from rewards_service.application.commands import (
    CreatePromotion,
    PlayerRegistration,
    RevisePromotion,
)
from rewards_service.application.services import PromotionService, WelcomeService
from rewards_service.domain.exceptions import (
    OverlappingPromotion,
    PromotionNotAssignable,
    PromotionNotFound,
    TooManyPlayers,
    UnknownPlayers,
)
from rewards_service.domain.model import Player, PlayerPromotionStatus, PromotionType
from rewards_service.domain.ports import PlayerPromotionFilter, PromotionFilter
from shared.application.events import Topic
from shared.domain.clock import FixedClock
from shared.domain.exceptions import PermissionDenied
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role
from tests.support.tokens import SetOfInactiveUsers
from tests.unit.rewards.fakes import FakeUnitOfWork, Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STAFF = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def promotions(store: Store, clock: FixedClock) -> PromotionService:
    return PromotionService(
        uow=lambda: FakeUnitOfWork(store), clock=clock, inactive_users=SetOfInactiveUsers()
    )


@pytest.fixture
def welcome(store: Store, clock: FixedClock) -> WelcomeService:
    return WelcomeService(uow=lambda: FakeUnitOfWork(store), clock=clock)


def command(**overrides: Any) -> CreatePromotion:
    values: dict[str, Any] = {
        "title": "Bonus",
        "type": PromotionType.BONUS,
        "amount": Decimal("5.00"),
        "start_date": NOW - timedelta(days=1),
        "end_date": NOW + timedelta(days=1),
    }
    values.update(overrides)
    return CreatePromotion(**values)


def players(store: Store, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for player_id in ids:
        store.players[player_id] = Player(player_id, NOW)
    return ids


def registration(player_id: str | None = None, event_id: str | None = None) -> PlayerRegistration:
    return PlayerRegistration(
        event_id=event_id or str(uuid.uuid4()),
        player_id=player_id or str(uuid.uuid4()),
        registered_at=NOW,
    )


def test_create_records_the_author_and_refuses_a_second_running_welcome(
    promotions: PromotionService, store: Store
) -> None:
    created = promotions.create(command(type=PromotionType.WELCOME_BONUS), STAFF)
    assert store.promotions[created.id].created_by == STAFF.subject
    with pytest.raises(OverlappingPromotion):
        promotions.create(command(type=PromotionType.WELCOME_BONUS), STAFF)
    assert len(store.promotions) == 1


def test_revise_deactivates_and_reports_unknown_promotions(promotions: PromotionService) -> None:
    created = promotions.create(command(), STAFF)
    revised = promotions.revise(created.id, RevisePromotion(is_active=False))
    assert not revised.is_active
    assert promotions.list(PromotionFilter(active=False), PageRequest()).items == [revised]
    with pytest.raises(PromotionNotFound):
        promotions.revise(str(uuid.uuid4()), RevisePromotion(is_active=False))


def test_assign_notifies_each_new_holder_once(promotions: PromotionService, store: Store) -> None:
    promotion = promotions.create(command(), STAFF)
    first, second = players(store, 2)
    result = promotions.assign(promotion.id, [second, first, first], STAFF)
    assert sorted(result.assigned) == sorted([first, second])
    again = promotions.assign(promotion.id, [first], STAFF)
    assert again.assigned == []
    assert again.already_assigned == [first]
    assert [(t, e.event_type) for t, e in store.outbox] == [
        (Topic.NOTIFICATIONS, "PROMOTION"),
        (Topic.NOTIFICATIONS, "PROMOTION"),
    ]
    assert {e.user_id for _, e in store.outbox} == {first, second}


def test_assign_refuses_unknown_players_without_assigning_anyone(
    promotions: PromotionService, store: Store
) -> None:
    promotion = promotions.create(command(), STAFF)
    (known,) = players(store, 1)
    stranger = str(uuid.uuid4())
    with pytest.raises(UnknownPlayers) as refused:
        promotions.assign(promotion.id, [known, stranger], STAFF)
    assert refused.value.details == {"unknownPlayerIds": [stranger]}
    assert store.assignments == {}
    assert store.outbox == []


def test_assign_refuses_promotions_that_are_not_running(
    promotions: PromotionService, store: Store, clock: FixedClock
) -> None:
    (player,) = players(store, 1)
    inactive = promotions.create(command(is_active=False), STAFF)
    with pytest.raises(PromotionNotAssignable):
        promotions.assign(inactive.id, [player], STAFF)
    running = promotions.create(command(), STAFF)
    clock.advance(days=2)
    with pytest.raises(PromotionNotAssignable, match="ended"):
        promotions.assign(running.id, [player], STAFF)
    with pytest.raises(PromotionNotFound):
        promotions.assign(str(uuid.uuid4()), [player], STAFF)
    assert store.outbox == []


def test_assign_is_bounded(promotions: PromotionService) -> None:
    promotion = promotions.create(command(), STAFF)
    with pytest.raises(TooManyPlayers):
        promotions.assign(promotion.id, [str(uuid.uuid4()) for _ in range(501)], STAFF)


def test_players_read_only_their_own_promotions(
    promotions: PromotionService, store: Store, clock: FixedClock
) -> None:
    promotion = promotions.create(command(), STAFF)
    player, other = players(store, 2)
    promotions.assign(promotion.id, [player], STAFF)
    me = Principal(subject=player, role=Role.PLAYER)

    page = promotions.list_for_player(player, PlayerPromotionFilter(), PageRequest(), me)
    assert [v.status for v in page.items] == [PlayerPromotionStatus.ASSIGNED]
    assert promotions.get(promotion.id, me) == promotion
    clock.advance(days=2)
    expired = promotions.list_for_player(
        player, PlayerPromotionFilter(status=PlayerPromotionStatus.EXPIRED), PageRequest(), me
    )
    assert expired.total == 1
    with pytest.raises(PermissionDenied):
        promotions.list_for_player(other, PlayerPromotionFilter(), PageRequest(), me)
    with pytest.raises(PromotionNotFound):
        promotions.get(promotion.id, Principal(subject=other, role=Role.PLAYER))


def test_a_registration_gets_the_running_welcome_promotion_once(
    promotions: PromotionService, welcome: WelcomeService, store: Store
) -> None:
    promotion = promotions.create(command(type=PromotionType.WELCOME_BONUS), STAFF)
    event = registration()
    assigned = welcome.register_players([event])
    assert [a.promotion_id for a in assigned] == [promotion.id]
    assert welcome.register_players([event]) == []
    assert welcome.register_players([event, event]) == []
    assert welcome.register_players([registration(player_id=event.player_id)]) == []
    assert len(store.assignments) == 1
    assert len(store.outbox) == 1
    assert store.outbox[0][1].data["content"]["source"] == "WELCOME"


def test_a_registration_sent_again_later_gets_no_second_welcome(
    promotions: PromotionService, welcome: WelcomeService, store: Store, clock: FixedClock
) -> None:
    first = promotions.create(command(type=PromotionType.WELCOME_BONUS), STAFF)
    event = registration()
    assert [a.promotion_id for a in welcome.register_players([event])] == [first.id]
    clock.advance(days=2)  # the first welcome has ended; another runs
    second = promotions.create(
        command(
            type=PromotionType.WELCOME_BONUS,
            start_date=clock.now() - timedelta(hours=1),
            end_date=clock.now() + timedelta(days=1),
        ),
        STAFF,
    )
    # The same registration under another event id (a topic fed again after a restore).
    again = registration(player_id=event.player_id)
    assert welcome.register_players([again, registration()]) != []
    held = [a.promotion_id for a in store.assignments.values() if a.player_id == event.player_id]
    assert held == [first.id]
    assert second.id != first.id


def test_a_registration_without_a_running_welcome_promotion_is_only_remembered(
    promotions: PromotionService, welcome: WelcomeService, store: Store
) -> None:
    promotions.create(command(type=PromotionType.WELCOME_BONUS, is_active=False), STAFF)
    promotions.create(command(type=PromotionType.BONUS), STAFF)
    event = registration()
    assert welcome.register_players([event]) == []
    assert event.player_id in store.players
    assert store.outbox == []


def test_a_registration_is_not_given_a_welcome_promotion_out_of_claims(
    promotions: PromotionService, welcome: WelcomeService, store: Store
) -> None:
    promotion = promotions.create(command(type=PromotionType.WELCOME_BONUS, max_claims=1), STAFF)
    store.promotions[promotion.id] = promotion.record_claim(NOW)
    event = registration()
    assert welcome.register_players([event]) == []
    assert event.player_id in store.players
    assert store.outbox == []


def test_the_demo_welcome_promotion_is_made_only_when_none_runs(
    promotions: PromotionService, store: Store
) -> None:
    made = promotions.ensure_welcome_promotion(
        "Welcome", Decimal("25.00"), timedelta(days=365), "seed"
    )
    assert made is not None
    assert made.type is PromotionType.WELCOME_BONUS
    assert (
        promotions.ensure_welcome_promotion("Welcome", Decimal("25.00"), timedelta(days=1), "seed")
        is None
    )
    assert len(store.promotions) == 1
