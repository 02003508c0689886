"""Helpers for the wallet integration tests: requests, ledger checks, database lock probes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from protos.loyalty.wallet.v1 import wallet_pb2


def json_of(response: Any) -> Any:
    """The JSON body of a Flask test response."""
    return response.get_json()


def new_player() -> str:
    return f"player-{uuid.uuid4().hex[:12]}"


def add_request(
    player_id: str,
    amount: str | int = "10.00",
    *,
    key: str | None = None,
    currency: int = wallet_pb2.CURRENCY_BONUS,
    kind: int = wallet_pb2.TRANSACTION_TYPE_CREDIT,
    **extra: Any,
) -> wallet_pb2.AddTransactionRequest:
    request = wallet_pb2.AddTransactionRequest(
        player_id=player_id,
        currency=currency,  # type: ignore[arg-type]
        type=kind,  # type: ignore[arg-type]
        idempotency_key=key or uuid.uuid4().hex,
        **extra,
    )
    if isinstance(amount, str):
        request.bonus_amount = amount
    else:
        request.points_amount = amount
    return request


def transaction_count(engine: Engine, player_id: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM transactions WHERE player_id = :p"), {"p": player_id}
            ).scalar_one()
        )


def ledger(engine: Engine, player_id: str) -> dict[str, Decimal]:
    """Balances and the sums of the transaction log, side by side."""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                """
                SELECT w.bonus_balance, w.points_balance,
                  COALESCE(SUM(CASE WHEN t.type = 'CREDIT' THEN t.amount ELSE -t.amount END)
                           FILTER (WHERE t.currency = 'BONUS'), 0) AS bonus_total,
                  COALESCE(SUM(CASE WHEN t.type = 'CREDIT' THEN t.amount ELSE -t.amount END)
                           FILTER (WHERE t.currency = 'POINTS'), 0) AS points_total,
                  count(t.id) AS transactions
                FROM wallets w LEFT JOIN transactions t ON t.player_id = w.player_id
                WHERE w.player_id = :p
                GROUP BY w.bonus_balance, w.points_balance
                """
            ),
            {"p": player_id},
        ).one()
    return {
        "bonus": row.bonus_balance,
        "bonus_total": row.bonus_total,
        "points": Decimal(row.points_balance),
        "points_total": row.points_total,
        "transactions": Decimal(row.transactions),
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def waiting_on_locks(engine: Engine) -> int:
    """Statements of the wallet service blocked on a row lock right now."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND application_name = 'redeem-service'"
                )
            ).scalar_one()
        )
