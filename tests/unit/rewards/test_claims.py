"""Claiming a promotion with in-memory adapters and a fake wallet."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from rewards_service.application.commands import CreatePromotion
from rewards_service.application.services import (
    ClaimService,
    CreditReconciliation,
    PromotionService,
)
from rewards_service.controllers.consumers import PENDING_CREDITS, CreditReconciliationTask
from rewards_service.domain.exceptions import (
    PromotionAlreadyClaimed,
    PromotionClaimLimitReached,
    PromotionNotAssignable,
    PromotionNotAssigned,
    PromotionNotClaimable,
    WalletUnavailable,
)
from rewards_service.domain.model import Player, PlayerPromotionStatus, PromotionType
from rewards_service.domain.ports import PlayerPromotionFilter
from shared.domain.clock import FixedClock
from shared.domain.pagination import PageRequest
from shared.domain.principal import Principal, Role
from tests.support.tokens import SetOfInactiveUsers
from tests.unit.rewards.fakes import FakeCreditNotes, FakeUnitOfWork, FakeWallet, Store

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
STAFF = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def wallet() -> FakeWallet:
    return FakeWallet()


@pytest.fixture
def promotions(store: Store, clock: FixedClock) -> PromotionService:
    return PromotionService(
        uow=lambda: FakeUnitOfWork(store), clock=clock, inactive_users=SetOfInactiveUsers()
    )


@pytest.fixture
def claims(store: Store, clock: FixedClock, wallet: FakeWallet) -> ClaimService:
    return claim_service(store, wallet, clock)


def claim_service(
    store: Store, wallet: FakeWallet, clock: FixedClock | None = None
) -> ClaimService:
    return ClaimService(
        uow=lambda: FakeUnitOfWork(store),
        wallet=wallet,
        clock=clock or FixedClock(NOW),
        notes=FakeCreditNotes(store),
    )


def held(
    store: Store, promotions: PromotionService, amount: str = "25.00", **limits: Any
) -> tuple[str, str]:
    """A player holding a new running promotion: (player id, promotion id)."""
    player = str(uuid.uuid4())
    store.players[player] = Player(player, NOW)
    promotion = promotions.create(
        CreatePromotion(
            title="Spring bonus",
            description="",
            type=PromotionType.BONUS,
            amount=Decimal(amount),
            start_date=NOW - timedelta(days=1),
            end_date=NOW + timedelta(days=30),
            **limits,
        ),
        STAFF,
    )
    promotions.assign(promotion.id, [player], STAFF)
    return player, promotion.id


def test_a_claim_credits_the_wallet_once_and_notifies(store, promotions, claims, wallet):
    player, promotion = held(store, promotions)
    result = claims.claim(player, promotion)
    assert result.assignment.status is PlayerPromotionStatus.CLAIMED
    assert result.amount == Decimal("25.00")
    assert result.credit is not None
    assert result.credit.bonus_balance == Decimal("25.00")
    assert list(wallet.credits.values()) == [(player, Decimal("25.00"))]
    assert next(iter(wallet.credits)) == f"{result.assignment.id}:1"
    topic, event = store.outbox[-1]
    assert (topic.value, event.event_type) == ("notifications", "BONUS_CREDITED")
    assert event.data["content"]["amount"] == "25.00"
    assert store.promotions[promotion].claims_count == 1
    with pytest.raises(PromotionAlreadyClaimed):
        claims.claim(player, promotion)
    assert len(wallet.credits) == 1


def test_a_wallet_outage_records_nothing_and_leaves_it_claimable(store, promotions, claims, wallet):
    player, promotion = held(store, promotions)
    wallet.down = True
    with pytest.raises(WalletUnavailable):
        claims.claim(player, promotion)
    [assignment] = store.assignments.values()
    assert assignment.status is PlayerPromotionStatus.ASSIGNED
    assert not any(e.event_type == "BONUS_CREDITED" for _, e in store.outbox)
    assert store.promotions[promotion].claims_count == 0
    wallet.down = False
    assert claims.claim(player, promotion).assignment.status is PlayerPromotionStatus.CLAIMED


def test_a_claim_retried_after_a_lost_answer_is_not_credited_twice(
    store, promotions, claims, wallet
):
    player, promotion = held(store, promotions)
    [assignment] = store.assignments.values()
    # The wallet recorded the credit, but its answer never came back (the claim rolled back).
    wallet.credits[f"{assignment.id}:1"] = (player, Decimal("25.00"))
    result = claims.claim(player, promotion)
    assert result.credit is not None
    assert result.credit.replayed
    assert len(wallet.credits) == 1


class LosesAnswers(FakeWallet):
    """Records the credit, then the answer is lost (the claim rolls back)."""

    def credit_bonus(self, *args: Any, **kwargs: Any) -> Any:
        super().credit_bonus(*args, **kwargs)
        raise WalletUnavailable()


def reconciliation(store: Store, wallet: FakeWallet, at: datetime) -> CreditReconciliation:
    return CreditReconciliation(
        uow=lambda: FakeUnitOfWork(store),
        wallet=wallet,
        clock=FixedClock(at),
        grace=timedelta(minutes=5),
    )


def test_a_claim_rolled_back_after_the_wallet_credited_it_is_recorded_later(store, promotions):
    player, promotion = held(store, promotions)
    wallet = LosesAnswers()
    with pytest.raises(WalletUnavailable):
        claim_service(store, wallet).claim(player, promotion)
    [assignment] = store.assignments.values()
    key = f"{assignment.id}:1"
    assert assignment.claim_count == 0
    assert list(store.pending_credits) == [key]
    # Not while a claim could still be running.
    assert reconciliation(store, wallet, NOW + timedelta(minutes=1)).run_once().waiting == 1
    assert list(store.pending_credits) == [key]
    # The promotion has ended since: the wallet's credit is the fact all the same.
    later = NOW + timedelta(days=40)
    result = reconciliation(store, wallet, later).run_once()
    assert (result.claim_recorded, result.not_credited, result.recorded) == ([key], [], [])
    [assignment] = store.assignments.values()
    assert assignment.status is PlayerPromotionStatus.CLAIMED
    assert assignment.claim_count == 1
    assert assignment.last_claimed_at == wallet.credited_at[key]
    assert store.promotions[promotion].claims_count == 1
    topic, event = store.outbox[-1]
    assert (topic.value, event.event_type) == ("notifications", "BONUS_CREDITED")
    assert event.data["content"]["amount"] == "25.00"
    assert event.data["content"]["transactionId"] == f"tx-{key}"
    assert not store.pending_credits
    assert reconciliation(store, wallet, later).run_once().claim_recorded == []
    assert len(wallet.credits) == 1


def test_a_note_the_wallet_never_credited_is_dropped_and_the_promotion_stays_claimable(
    store, promotions, claims, wallet
):
    player, promotion = held(store, promotions)
    wallet.down = True
    with pytest.raises(WalletUnavailable):
        claims.claim(player, promotion)
    assert len(store.pending_credits) == 1
    later = NOW + timedelta(minutes=10)
    with pytest.raises(WalletUnavailable):  # the wallet cannot say yet: the note stays
        reconciliation(store, wallet, later).run_once()
    assert len(store.pending_credits) == 1
    wallet.down = False
    result = reconciliation(store, wallet, later).run_once()
    assert (len(result.not_credited), result.claim_recorded) == (1, [])
    assert not store.pending_credits
    [assignment] = store.assignments.values()
    assert assignment.status is PlayerPromotionStatus.ASSIGNED
    assert not wallet.credits
    assert claims.claim(player, promotion).assignment.status is PlayerPromotionStatus.CLAIMED
    assert not store.pending_credits


def test_a_postponed_reconciliation_still_reports_the_notes_waiting(
    store, promotions, claims, wallet
):
    player, promotion = held(store, promotions)
    wallet.down = True
    with pytest.raises(WalletUnavailable):
        claims.claim(player, promotion)
    PENDING_CREDITS.set(0)  # what the last run that reached the wallet left
    task = CreditReconciliationTask(reconciliation(store, wallet, NOW + timedelta(minutes=10)))
    assert task() is False  # postponed: the wallet cannot say yet
    # The runbook's signal: the gauge shows the note the run could not resolve.
    assert REGISTRY.get_sample_value("claim_credits_pending") == 1
    wallet.down = False
    task()
    assert REGISTRY.get_sample_value("claim_credits_pending") == 0


def test_a_claim_made_again_after_a_lost_answer_settles_its_note(store, promotions, claims):
    player, promotion = held(store, promotions)
    lossy = LosesAnswers()
    with pytest.raises(WalletUnavailable):
        claim_service(store, lossy).claim(player, promotion)
    answering = FakeWallet()  # the same wallet, answering this time
    answering.credits.update(lossy.credits)
    answering.credited_at.update(lossy.credited_at)
    again = claim_service(store, answering)
    credit = again.claim(player, promotion).credit
    assert credit is not None
    assert credit.replayed
    assert not store.pending_credits
    assert reconciliation(store, lossy, NOW + timedelta(hours=1)).run_once().waiting == 0
    assert store.promotions[promotion].claims_count == 1


def test_only_a_held_promotion_can_be_claimed(store, promotions, claims):
    player, promotion = held(store, promotions)
    with pytest.raises(PromotionNotAssigned):
        claims.claim(str(uuid.uuid4()), promotion)
    with pytest.raises(PromotionNotAssigned):
        claims.claim(player, str(uuid.uuid4()))


def test_an_ended_or_deactivated_promotion_cannot_be_claimed(store, promotions, claims, clock):
    player, promotion = held(store, promotions)
    clock.advance(days=31)
    with pytest.raises(PromotionNotClaimable):
        claims.claim(player, promotion)


def test_the_total_limit_is_enforced(store, promotions, claims, wallet):
    first, promotion = held(store, promotions, max_claims=1)
    second = str(uuid.uuid4())
    store.players[second] = Player(second, NOW)
    promotions.assign(promotion, [second], STAFF)
    claims.claim(first, promotion)
    with pytest.raises(PromotionClaimLimitReached):
        claims.claim(second, promotion)
    assert len(wallet.credits) == 1


def test_a_promotion_out_of_claims_is_assigned_to_nobody_and_offered_to_nobody(
    store, promotions, claims
):
    first, promotion = held(store, promotions, max_claims=1)
    second, third = str(uuid.uuid4()), str(uuid.uuid4())
    for player in (second, third):
        store.players[player] = Player(player, NOW)
    promotions.assign(promotion, [second], STAFF)
    claims.claim(first, promotion)
    notified = len(store.outbox)

    with pytest.raises(PromotionNotAssignable, match="maximum number of claims"):
        promotions.assign(promotion, [third], STAFF)
    assert len(store.outbox) == notified
    assert not any(a.player_id == third for a in store.assignments.values())

    viewer = Principal(subject=second, role=Role.PLAYER)
    [view] = promotions.list_for_player(
        second, PlayerPromotionFilter(), PageRequest(), viewer
    ).items
    assert (view.status, view.claims_remaining) == (PlayerPromotionStatus.EXPIRED, 0)
    with pytest.raises(PromotionClaimLimitReached):
        claims.claim(second, promotion)


def test_a_repeatable_promotion_uses_a_new_key_per_claim(store, promotions, claims, wallet):
    player, promotion = held(store, promotions, max_claims_per_player=2)
    first = claims.claim(player, promotion)
    assert first.assignment.status is PlayerPromotionStatus.ASSIGNED
    second = claims.claim(player, promotion)
    assert second.assignment.status is PlayerPromotionStatus.CLAIMED
    assert sorted(k.rsplit(":", 1)[1] for k in wallet.credits) == ["1", "2"]


def test_a_zero_amount_promotion_is_claimed_without_a_wallet_call(
    store, promotions, claims, wallet
):
    player, promotion = held(store, promotions, amount="0.00")
    result = claims.claim(player, promotion)
    assert result.credit is None
    assert wallet.calls == 0
    assert result.assignment.status is PlayerPromotionStatus.CLAIMED
