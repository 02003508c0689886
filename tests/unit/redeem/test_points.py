"""Points from confirmed awards with in-memory adapters: once per source event, reversals that
may go below zero, and the ledger explaining every balance."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from redeem_service.application.commands import RecordTransaction
from redeem_service.application.points import PointsService
from redeem_service.application.services import WalletService
from redeem_service.domain.exceptions import (
    AwardConflict,
    BalanceLimitExceeded,
    InsufficientBalance,
    InvalidAmount,
    InvalidPlayerId,
)
from redeem_service.domain.model import (
    MAX_BALANCE,
    Currency,
    PointsAward,
    TransactionSource,
    TransactionType,
    Wallet,
)
from shared.domain.clock import FixedClock
from tests.unit.redeem.fakes import FakeUnitOfWork, InMemoryLedger, Store, ledger_total

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def service(store: Store) -> PointsService:
    return PointsService(uow=lambda: FakeUnitOfWork(store), clock=FixedClock(NOW))


def award(
    points: int, player: str = "p1", source: str | None = None, **extra: object
) -> PointsAward:
    return PointsAward(
        player_id=player,
        points=points,
        source_event_id=source or str(uuid.uuid4()),
        source_event_type="HOTEL_STAY" if points >= 0 else "HOTEL_STAY_REVERSED",
        **extra,  # type: ignore[arg-type]
    )


def test_a_batch_credits_each_player_with_one_log_line_per_award(
    service: PointsService, store: Store
) -> None:
    result = service.award(
        [award(10), award(5, partner_id="hotel", reference="stay-9"), award(7, player="p2")]
    )
    assert (result.earned, result.reversed, result.duplicates) == (3, 0, 0)
    assert store.wallets["p1"].points == 15
    assert store.wallets["p2"].points == 7
    assert store.commits == 1
    first, second, _ = store.transactions
    assert first.source is TransactionSource.EARNING
    assert first.kind is TransactionType.CREDIT
    assert first.idempotency_key == f"reward:{first.additional_data['sourceEventId']}"
    assert (first.points_after, second.points_after) == (10, 15)
    assert second.actor == "hotel"
    assert second.additional_data["reference"] == "stay-9"
    assert ledger_total(store, "p1", "POINTS") == 15


def test_a_redelivered_award_changes_nothing(service: PointsService, store: Store) -> None:
    source = str(uuid.uuid4())
    service.award([award(10, source=source)])
    again = service.award([award(10, source=source), award(10, source=source)])
    assert (again.earned, again.duplicates) == (0, 2)
    assert store.wallets["p1"].points == 10
    assert len(store.transactions) == 1
    assert store.commits == 1


def test_the_same_source_twice_in_one_batch_counts_once(
    service: PointsService, store: Store
) -> None:
    source = str(uuid.uuid4())
    result = service.award([award(10, source=source), award(10, source=source), award(1)])
    assert (result.earned, result.duplicates) == (2, 1)
    assert store.wallets["p1"].points == 11


def test_one_source_with_other_points_in_the_same_batch_is_a_conflict_not_a_repeat(
    service: PointsService, store: Store
) -> None:
    source = str(uuid.uuid4())
    with pytest.raises(AwardConflict):
        service.award([award(10, source=source), award(99, source=source), award(1)])
    assert "p1" not in store.wallets  # nothing of the batch: the runner takes it one by one


def test_a_reversal_takes_back_points_already_spent_and_the_ledger_stays_exact(
    service: PointsService, store: Store
) -> None:
    service.award([award(100)])
    spend = RecordTransaction("p1", Currency.POINTS, TransactionType.DEBIT, 70, "spent-1")
    WalletService(lambda: FakeUnitOfWork(store), InMemoryLedger(store), FixedClock(NOW)).record(
        spend, actor="shop"
    )
    result = service.award([award(-100)])
    assert result.reversed == 1
    assert store.wallets["p1"].points == -70
    reversal = store.transactions[-1]
    assert reversal.kind is TransactionType.DEBIT
    assert reversal.amount.points == 100
    assert reversal.points_after == -70
    assert reversal.description == "Points reversed: HOTEL_STAY_REVERSED"
    assert ledger_total(store, "p1", "POINTS") == -70


def test_a_balance_below_zero_refuses_debits_until_earned_back(
    service: PointsService, store: Store
) -> None:
    service.award([award(-20)])
    wallet = WalletService(lambda: FakeUnitOfWork(store), InMemoryLedger(store), FixedClock(NOW))
    spend = RecordTransaction("p1", Currency.POINTS, TransactionType.DEBIT, 1, "spend-1")
    with pytest.raises(InsufficientBalance):
        wallet.record(spend, actor="shop")
    service.award([award(25)])
    assert wallet.record(spend, actor="shop").wallet.points == 4


def test_a_zero_award_is_acknowledged_without_a_log_line(
    service: PointsService, store: Store
) -> None:
    result = service.award([award(0)])
    assert result.zero == 1
    assert store.transactions == []
    assert store.commits == 0


def test_an_award_that_would_overflow_the_balance_is_refused_with_nothing_recorded(
    service: PointsService, store: Store
) -> None:
    store.wallets["p1"] = Wallet("p1", points=int(MAX_BALANCE[Currency.POINTS]) - 5)
    with pytest.raises(BalanceLimitExceeded):
        service.award([award(3), award(10)])
    assert store.transactions == []
    assert store.commits == 0


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"player_id": "not a player"}, InvalidPlayerId),
        ({"points": 2_000_000_000}, InvalidAmount),
        ({"points": True}, InvalidAmount),
    ],
)
def test_an_award_that_is_not_valid_is_refused(change: dict[str, object], error: type) -> None:
    fields: dict[str, object] = {
        "player_id": "p1",
        "points": 5,
        "source_event_id": str(uuid.uuid4()),
        "source_event_type": "DINING",
        **change,
    }
    with pytest.raises(error):
        PointsAward(**fields)  # type: ignore[arg-type]
