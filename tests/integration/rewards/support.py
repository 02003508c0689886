"""Partner events for the earning tests, and what they leave in the rewards database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from rewards_service.container import Container
from rewards_service.controllers.consumers import PartnerEvents
from shared.application.events import IntegrationEvent
from shared.messaging.consumer import InboundEvent, Rejected
from shared.messaging.schemas import event_schemas


def inbound(message: dict[str, Any], offset: int = 0, key: str | None = None) -> InboundEvent:
    event_schemas().validate(message)
    return InboundEvent(
        event=IntegrationEvent.from_message(message),
        topic="reward-events",
        partition=0,
        offset=offset,
        key=key if key is not None else message["user_id"],
        raw=message,
    )


def handler(container: Container) -> PartnerEvents:
    return PartnerEvents(container.earning_service(), container.core.clock(), container.max_ahead())


def handle(container: Container, *messages: dict[str, Any]) -> list[Rejected]:
    """One consumer batch through the real handler (a fresh service: rules read anew)."""
    return handler(container).handle([inbound(m, offset=i) for i, m in enumerate(messages)])


def confirmations(container: Container) -> list[dict[str, Any]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT message_key, payload FROM outbox "
                "WHERE topic = 'reward-confirmed' ORDER BY id"
            )
        ).all()
    return [{"key": r.message_key, **r.payload} for r in rows]


def recorded(container: Container) -> dict[str, dict[str, Any]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT event_id, status, points_awarded, rule_version, payload FROM reward_events"
            )
        ).mappings()
        return {str(r["event_id"]): dict(r) for r in rows}


def daily_totals(container: Container, player: str) -> dict[tuple[str, str], tuple[int, int]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT day, source, points, events FROM player_points_daily WHERE player_id = :p"
            ),
            {"p": player},
        ).all()
    return {(r.day.isoformat(), r.source): (int(r.points), r.events) for r in rows}
