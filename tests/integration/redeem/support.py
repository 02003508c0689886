"""Helpers for the wallet integration tests: requests, events, ledger checks, consumer runners,
database lock probes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, text

from protos.loyalty.wallet.v1 import wallet_pb2
from redeem_service.container import Container
from shared.application.events import IntegrationEvent
from shared.messaging.consumer import EventHandler, InboundEvent
from shared.messaging.kafka import ensure_topics
from shared.messaging.schemas import event_schemas
from tests.support.infra import Infra
from tests.support.kafka import RunningConsumer


def json_of(response: Any) -> Any:
    """The JSON body of a Flask test response."""
    return response.get_json()


def new_player() -> str:
    return f"player-{uuid.uuid4().hex[:12]}"


def registered_player(container: Container) -> str:
    """A player the wallet knows registered (as the ``players`` consumer records them)."""
    player = new_player()
    container.player_directory().record([(player, datetime.now(UTC))])
    return player


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


def inbound(event: IntegrationEvent, topic: str, offset: int = 0) -> InboundEvent:
    """An event as the consumer runner hands it to a handler (already validated)."""
    message = event.to_message()
    event_schemas().validate(message)
    return InboundEvent(
        event=event, topic=topic, partition=0, offset=offset, key=event.user_id, raw=message
    )


def reward_confirmed(
    player_id: str, points: int, source_event_id: str | None = None, **extra: Any
) -> IntegrationEvent:
    return IntegrationEvent(
        "REWARD_CONFIRMED",
        player_id,
        {
            "pointsAwarded": points,
            "sourceEventId": source_event_id or str(uuid.uuid4()),
            "sourceEventType": "DINING" if points >= 0 else "DINING_REVERSED",
            "ruleVersion": 1,
            "partnerId": "dining",
            **extra,
        },
    )


def redeem_requested(
    player_id: str,
    points: int,
    redeem_request_id: str | None = None,
    requested_by: str = "casino",
    **extra: Any,
) -> IntegrationEvent:
    return IntegrationEvent(
        "REDEEM_REQUESTED",
        player_id,
        {
            "redeemRequestId": redeem_request_id or str(uuid.uuid4()),
            "points": points,
            "rewardDescription": "Show tickets",
            "requestedBy": requested_by,
            **extra,
        },
    )


def outbox_messages(engine: Engine, topic: str | None = None) -> list[dict[str, Any]]:
    """Outbox rows in order: the payload plus its topic."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT topic, payload FROM outbox ORDER BY id")).all()
    return [{"topic": r.topic, **r.payload} for r in rows if topic is None or r.topic == topic]


def outbox_events(engine: Engine, topic: str) -> list[IntegrationEvent]:
    """The events of ``topic`` waiting in the outbox, as a consumer would read them."""
    return [
        IntegrationEvent.from_message({k: v for k, v in m.items() if k != "topic"})
        for m in outbox_messages(engine, topic)
    ]


def points_balance(engine: Engine, player_id: str) -> int | None:
    with engine.connect() as connection:
        value = connection.execute(
            text("SELECT points_balance FROM wallets WHERE player_id = :p"), {"p": player_id}
        ).scalar_one_or_none()
    return None if value is None else int(value)


class Running(RunningConsumer):
    """A consumer runner in a thread, as the worker runs it, on its own group."""

    def __init__(self, infra: Infra, topic: str, handler: EventHandler) -> None:
        group = f"redeem-test-{uuid.uuid4().hex[:8]}"
        super().__init__(
            infra.kafka_settings, topic, handler, group, retry_backoff=0.01, poll_timeout=0.05
        )


def fresh_topic(infra: Infra, prefix: str) -> str:
    """A topic (and its dead-letter companion) of this test alone."""
    name = f"{prefix}-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [name, f"{name}.dlq"])
    return name
