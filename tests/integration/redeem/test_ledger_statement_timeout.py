"""The one-statement ledger against the real PostgreSQL: its connections' session timeout follows
the caller's deadline and never leaks into later work on the same pooled connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from redeem_service.adapters.persistence.ledger import SqlAlchemyLedger
from redeem_service.adapters.persistence.unit_of_work import SqlAlchemyRedeemUnitOfWork
from redeem_service.domain.model import (
    Amount,
    Currency,
    TransactionRequest,
    TransactionSource,
    TransactionType,
)
from shared import deadline
from shared.persistence.database import create_database_engine
from tests.integration.redeem.support import new_player

DEFAULT_MS = 15_000
NOW = datetime(2026, 12, 3, tzinfo=UTC)


@pytest.fixture
def engine(redeem_database: str) -> Iterator[Engine]:
    """One pooled connection, so every step below reuses the same session."""
    opened = create_database_engine(
        {
            "url": redeem_database,
            "statement_timeout_ms": DEFAULT_MS,
            "pool": {"size": 1, "max_overflow": 0},
        }
    )
    yield opened
    opened.dispose()


def credit(player: str, key: str) -> TransactionRequest:
    return TransactionRequest(
        player_id=player,
        kind=TransactionType.CREDIT,
        amount=Amount.parse(Currency.BONUS, "2.50"),
        idempotency_key=key,
        actor="rewards-service",
        source=TransactionSource.SERVICE,
    )


def uow_timeout(engine: Engine, budget: float | None) -> str:
    with deadline.bound_deadline(budget), SqlAlchemyRedeemUnitOfWork(engine) as uow:
        return str(uow.connection.exec_driver_sql("SHOW statement_timeout").scalar_one())


def session_timeout(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.exec_driver_sql("SHOW statement_timeout").scalar_one())


def test_the_session_timeout_follows_the_deadline_and_units_of_work_get_their_own(
    engine: Engine,
) -> None:
    ledger = SqlAlchemyLedger(engine, statement_timeout_ms=DEFAULT_MS)
    player = new_player()
    with deadline.bound_deadline(2.0):
        first = ledger.post(credit(player, f"{player}-1"), NOW)
    assert first is not None
    assert first.wallet_after.bonus == Decimal("2.50")
    # 2 s less the time to get here, rounded down to two significant digits.
    assert session_timeout(engine) == "1900ms"
    # A unit of work without a deadline is not bounded by the last caller's budget ...
    assert uow_timeout(engine, None) == "15s"
    # ... one with a budget gets its own, and neither changes the session.
    assert uow_timeout(engine, 0.5) == "490ms"
    assert session_timeout(engine) == "1900ms"
    # A ledger call without a deadline puts the default back.
    assert ledger.post(credit(player, f"{player}-2"), NOW) is not None
    assert session_timeout(engine) == "15s"


def test_a_taken_key_changes_nothing_and_leaves_the_connection_usable(engine: Engine) -> None:
    ledger = SqlAlchemyLedger(engine, statement_timeout_ms=DEFAULT_MS)
    player = new_player()
    recorded = ledger.post(credit(player, f"{player}-k"), NOW)
    assert recorded is not None
    assert ledger.post(credit(player, f"{player}-k"), NOW) is None
    with SqlAlchemyRedeemUnitOfWork(engine) as uow:
        wallet = uow.wallets.get(player)
        first = uow.transactions.get_by_idempotency_key(f"{player}-k")
    assert wallet is not None
    assert wallet.bonus == Decimal("2.50")
    assert first is not None
    assert first.id == recorded.id
