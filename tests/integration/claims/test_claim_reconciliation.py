"""A claim whose transaction rolls back after the wallet credited it: the note it left is
resolved from what the real wallet (gRPC server, its own database) recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from embedded.servers import free_port
from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
from rewards_service.application.commands import CreatePromotion
from rewards_service.application.services import CreditReconciliation
from rewards_service.container import Container
from rewards_service.domain.exceptions import WalletUnavailable
from rewards_service.domain.model import PlayerPromotionStatus, PromotionType
from shared.domain.clock import FixedClock
from shared.domain.principal import Principal, Role
from tests.integration.claims.test_wallet_gateway import credits, gateway, start_wallet
from tests.integration.rewards.conftest import add_players

STAFF = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)


class CommitFails(SqlAlchemyRewardsUnitOfWork):
    """The claim's transaction fails after the wallet call (as when the database goes away)."""

    def _bind(self, connection: Any) -> None:
        super()._bind(connection)

        def lost(_key: str) -> bool:
            raise RuntimeError("server closed the connection unexpectedly")

        self.pending_credits.remove = lost  # type: ignore[method-assign,assignment]


@pytest.fixture
def held(rewards_container: Container) -> Any:
    """A player holding a running 25.00 promotion; rewards' tables emptied afterwards."""
    [player] = add_players(rewards_container)
    now = datetime.now(UTC)
    service = rewards_container.promotion_service()
    promotion = service.create(
        CreatePromotion(
            title="Spring bonus",
            description="",
            type=PromotionType.BONUS,
            amount=Decimal("25.00"),
            start_date=now - timedelta(days=1),
            end_date=now + timedelta(days=30),
        ),
        STAFF,
    )
    service.assign(promotion.id, [player], STAFF)
    yield player, promotion.id
    with rewards_container.core.database().begin() as connection:
        connection.execute(
            text("TRUNCATE player_promotions, players, promotions, outbox, pending_wallet_credits")
        )


def assignment_row(container: Container, player: str) -> Any:
    with container.core.database().connect() as connection:
        return connection.execute(
            text("SELECT status, claim_count FROM player_promotions WHERE player_id = :p"),
            {"p": player},
        ).one()


def notes(container: Container) -> list[str]:
    with container.core.database().connect() as connection:
        return list(
            connection.execute(text("SELECT idempotency_key FROM pending_wallet_credits")).scalars()
        )


def credited_notifications(container: Container, player: str) -> list[Any]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text("SELECT payload FROM outbox WHERE topic = 'notifications'")
        ).scalars()
        return [p for p in rows if p["eventType"] == "BONUS_CREDITED" and p["user_id"] == player]


def test_a_credit_whose_claim_rolled_back_is_recorded_from_the_wallet(
    rewards_container, redeem_container, token_endpoint, held
):
    player, promotion = held
    core = rewards_container.core
    port = free_port()
    server = start_wallet(redeem_container, port)
    wallet = gateway(port, token_endpoint)
    try:
        failing = rewards_container.claim_service(
            uow=lambda: CommitFails(core.database(), core.schemas()), wallet=wallet
        )
        with pytest.raises(RuntimeError):
            failing.claim(player, promotion)
        # The wallet credited; rewards recorded nothing but the note.
        assert len(credits(redeem_container, player)) == 1
        assert tuple(assignment_row(rewards_container, player)) == ("ASSIGNED", 0)
        [key] = notes(rewards_container)
        assert credited_notifications(rewards_container, player) == []

        def reconcile(after: timedelta) -> Any:
            clock = FixedClock(datetime.now(UTC) + after)
            return CreditReconciliation(
                rewards_container.uow, wallet, clock, grace=timedelta(minutes=5)
            ).run_once()

        assert reconcile(timedelta(0)).claim_recorded == []  # a claim could still be running
        result = reconcile(timedelta(minutes=6))
        assert (result.claim_recorded, result.not_credited) == ([key], [])
        assert tuple(assignment_row(rewards_container, player)) == ("CLAIMED", 1)
        [notification] = credited_notifications(rewards_container, player)
        assert notification["content"]["amount"] == "25.00"
        assert notification["content"]["balance"] == "25.00"
        assert notes(rewards_container) == []
        with core.database().connect() as connection:
            counted = connection.execute(
                text("SELECT claims_count FROM promotions WHERE id = :id"), {"id": promotion}
            ).scalar_one()
        assert counted == 1
        assert len(credits(redeem_container, player)) == 1  # never credited twice
    finally:
        wallet.close()
        server.stop(0)


def test_a_claim_the_wallet_never_recorded_stays_claimable(
    rewards_container, redeem_container, token_endpoint, held
):
    player, promotion = held
    port = free_port()
    down = gateway(port, token_endpoint, deadline_seconds=0.2, total_seconds=1.0)
    claims = rewards_container.claim_service(wallet=down)
    with pytest.raises(WalletUnavailable):
        claims.claim(player, promotion)
    down.close()
    [key] = notes(rewards_container)
    server = start_wallet(redeem_container, port)
    wallet = gateway(port, token_endpoint)
    try:
        clock = FixedClock(datetime.now(UTC) + timedelta(minutes=10))
        result = CreditReconciliation(rewards_container.uow, wallet, clock).run_once()
        assert (result.not_credited, result.claim_recorded) == ([key], [])
        assert notes(rewards_container) == []
        assert tuple(assignment_row(rewards_container, player)) == ("ASSIGNED", 0)
        claimed = rewards_container.claim_service(wallet=wallet).claim(player, promotion)
        assert claimed.assignment.status is PlayerPromotionStatus.CLAIMED
        assert notes(rewards_container) == []
        assert len(credits(redeem_container, player)) == 1
    finally:
        wallet.close()
        server.stop(0)
