"""Wallet use cases with in-memory adapters: idempotency, overdraft refusal, adjustments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from redeem_service.application.commands import AdjustBalance, RecordTransaction
from redeem_service.application.services import WalletService
from redeem_service.domain.exceptions import (
    IdempotencyKeyReused,
    InsufficientBalance,
    InvalidAmount,
    InvalidTransactionDetails,
    PlayerNotFound,
)
from redeem_service.domain.model import Currency, TransactionSource, TransactionType, Wallet
from redeem_service.domain.ports import TransactionFilter
from shared.application.events import Topic
from shared.domain.clock import FixedClock
from shared.domain.exceptions import PermissionDenied
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role
from tests.unit.redeem.fakes import FakeUnitOfWork, InMemoryLedger, Store, ledger_total

ADMIN = Principal(subject="admin-1", role=Role.ADMIN)
STAFF = Principal(subject="staff-1", role=Role.STAFF)


REGISTERED = datetime(2025, 12, 1, tzinfo=UTC)


@pytest.fixture
def store() -> Store:
    return Store(players={"p1": REGISTERED, "p2": REGISTERED})


@pytest.fixture
def service(store: Store) -> WalletService:
    return WalletService(
        uow=lambda: FakeUnitOfWork(store),
        ledger=InMemoryLedger(store),
        clock=FixedClock(datetime(2026, 1, 1, tzinfo=UTC)),
    )


def credit(amount: str = "10.00", key: str = "claim-1", player: str = "p1") -> RecordTransaction:
    return RecordTransaction(
        player_id=player,
        currency=Currency.BONUS,
        kind=TransactionType.CREDIT,
        amount=amount,
        idempotency_key=key,
        description="Welcome bonus",
        additional_data={"promotionId": "promo-1"},
    )


def test_a_credit_is_recorded_with_its_balance(service: WalletService, store: Store) -> None:
    result = service.record(credit("25.50"), actor="rewards-service")
    assert not result.replayed
    assert result.wallet == Wallet("p1", Decimal("25.50"), 0)
    [recorded] = store.transactions
    assert recorded.actor == "rewards-service"
    assert recorded.source is TransactionSource.SERVICE
    assert recorded.additional_data == {"promotionId": "promo-1"}
    assert service.wallet("p1").bonus == Decimal("25.50")


def test_a_player_id_in_capitals_is_the_same_players_wallet(
    service: WalletService, store: Store
) -> None:
    player = str(uuid.uuid4())
    service.record(credit("1.00", player=player.upper()), actor="rewards-service")
    assert [t.player_id for t in store.transactions] == [player]
    assert (
        service.wallet(player.upper())
        == service.wallet(player)
        == Wallet(player, Decimal("1.00"), 0)
    )


def test_the_same_key_and_content_returns_the_first_result_without_a_second_credit(
    service: WalletService, store: Store
) -> None:
    first = service.record(credit(), actor="rewards-service")
    again = service.record(credit("10"), actor="rewards-service")
    assert again.replayed
    assert again.transaction == first.transaction
    assert len(store.transactions) == 1
    assert service.wallet("p1").bonus == Decimal("10.00")


def test_the_same_key_with_another_content_is_refused(service: WalletService, store: Store) -> None:
    service.record(credit(), actor="rewards-service")
    with pytest.raises(IdempotencyKeyReused):
        service.record(credit("11.00"), actor="rewards-service")
    with pytest.raises(IdempotencyKeyReused):
        service.record(credit(player="p2"), actor="rewards-service")
    assert len(store.transactions) == 1
    assert service.wallet("p2") == Wallet("p2")


def test_a_debit_below_zero_is_refused_and_records_nothing(
    service: WalletService, store: Store
) -> None:
    service.record(credit("5.00"), actor="rewards-service")
    debit = RecordTransaction("p1", Currency.BONUS, TransactionType.DEBIT, "5.01", "spend-1")
    with pytest.raises(InsufficientBalance):
        service.record(debit, actor="rewards-service")
    assert [t.idempotency_key for t in store.transactions] == ["claim-1"]
    assert service.wallet("p1").bonus == Decimal("5.00")


def test_a_retried_debit_gets_its_first_result_even_when_the_balance_is_gone(
    service: WalletService,
) -> None:
    service.record(credit("5.00"), actor="rewards-service")
    debit = RecordTransaction("p1", Currency.BONUS, TransactionType.DEBIT, "5.00", "spend-1")
    first = service.record(debit, actor="rewards-service")
    again = service.record(debit, actor="rewards-service")
    assert again.replayed
    assert again.transaction.id == first.transaction.id
    assert service.wallet("p1").bonus == Decimal("0.00")


def test_an_adjustment_is_recorded_with_its_actor_and_reason_and_notified(
    service: WalletService, store: Store
) -> None:
    result = service.adjust(
        AdjustBalance("p1", Currency.POINTS, TransactionType.CREDIT, "300", "Lost card", "a-1"),
        actor=ADMIN,
    )
    assert result.wallet.points == 300
    assert result.transaction.actor == "admin-1"
    assert result.transaction.description == "Lost card"
    assert result.transaction.source is TransactionSource.ADJUSTMENT
    [(topic, event)] = store.outbox
    assert topic is Topic.NOTIFICATIONS
    assert event.event_type == "WALLET_ADJUSTED"
    assert event.user_id == "p1"
    assert event.data["content"]["balance"] == "300"


def test_an_adjustment_retried_with_its_key_applies_once(
    service: WalletService, store: Store
) -> None:
    command = AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", "Goodwill", "k1")
    first = service.adjust(command, actor=ADMIN)
    again = service.adjust(command, actor=ADMIN)
    assert again.replayed
    assert again.transaction.id == first.transaction.id
    assert len(store.outbox) == 1
    assert service.wallet("p1").bonus == Decimal("20.00")


def test_an_adjustment_key_reused_with_another_reason_is_refused(
    service: WalletService, store: Store
) -> None:
    service.adjust(
        AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", "Goodwil", "k1"),
        actor=ADMIN,
    )
    with pytest.raises(IdempotencyKeyReused):
        service.adjust(
            AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", "Goodwill", "k1"),
            actor=ADMIN,
        )
    assert len(store.outbox) == 1
    assert service.wallet("p1").bonus == Decimal("20.00")


def test_adjustments_without_a_key_are_distinct(service: WalletService) -> None:
    command = AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", "Goodwill")
    service.adjust(command, actor=ADMIN)
    service.adjust(command, actor=ADMIN)
    assert service.wallet("p1").bonus == Decimal("40.00")


def test_adjustment_keys_never_collide_with_service_keys(service: WalletService) -> None:
    service.record(credit("10.00", key="same-key"), actor="rewards-service")
    adjustment = service.adjust(
        AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "10", "Goodwill", "same-key"),
        actor=ADMIN,
    )
    assert not adjustment.replayed
    assert service.wallet("p1").bonus == Decimal("20.00")


def test_only_admins_adjust_and_only_with_a_reason(service: WalletService) -> None:
    command = AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", "Goodwill")
    with pytest.raises(PermissionDenied):
        service.adjust(command, actor=STAFF)
    with pytest.raises(InvalidTransactionDetails):
        service.adjust(
            AdjustBalance("p1", Currency.BONUS, TransactionType.CREDIT, "20", " "), actor=ADMIN
        )
    with pytest.raises(InvalidAmount):
        service.adjust(
            AdjustBalance("p1", Currency.POINTS, TransactionType.CREDIT, "2.5", "Why"), actor=ADMIN
        )
    assert service.wallet("p1") == Wallet("p1")


def test_an_adjustment_for_an_id_that_is_nobodys_changes_nothing(
    service: WalletService, store: Store
) -> None:
    nobody = AdjustBalance("p9", Currency.BONUS, TransactionType.CREDIT, "500", "Goodwill")
    with pytest.raises(PlayerNotFound):
        service.adjust(nobody, actor=ADMIN)
    assert (store.wallets, store.transactions, store.outbox) == ({}, [], [])
    # A wallet's owner may always be corrected (a credit from a service made the wallet).
    service.record(credit("10.00", key="claim-9", player="p9"), actor="rewards-service")
    debit = AdjustBalance("p9", Currency.BONUS, TransactionType.DEBIT, "10", "Correction")
    assert service.adjust(debit, actor=ADMIN).wallet.bonus == Decimal("0.00")


def test_the_statement_lists_newest_first_with_filters(
    service: WalletService, store: Store
) -> None:
    service.record(credit("1.00", key="k1"), actor="svc")
    points = RecordTransaction("p1", Currency.POINTS, TransactionType.CREDIT, 40, "k2")
    service.record(points, actor="svc")
    service.record(credit("2.00", key="k3"), actor="svc")
    statement = service.statement("p1", TransactionFilter(), PageRequest(1, 2))
    assert [t.idempotency_key for t in statement.transactions.items] == ["k3", "k2"]
    assert statement.transactions.total == 3
    assert statement.wallet == Wallet("p1", Decimal("3.00"), 40)
    bonus_only = service.statement("p1", TransactionFilter(currency=Currency.BONUS), PageRequest())
    assert [t.idempotency_key for t in bonus_only.transactions.items] == ["k3", "k1"]
    assert ledger_total(store, "p1", "BONUS") == Decimal("3.00")
