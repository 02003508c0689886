"""New redemption requests stored with their event as one autocommitted statement.

``INSERT INTO redemptions … ON CONFLICT DO NOTHING RETURNING id`` is a data-modifying CTE that
feeds the outbox insert, so the request and its ``REDEEM_REQUESTED`` event are written together
or not at all (a key the requester used before writes neither), without BEGIN and COMMIT: one
round trip instead of four on the busiest REST path (ADR 0601). The statement is bounded by the
caller's deadline like any unit of work's.
"""

from __future__ import annotations

from sqlalchemy import Engine

from redeem_service.adapters.persistence import statement_timeout
from redeem_service.adapters.persistence.repositories import ADD_REDEMPTION, redemption_row
from redeem_service.application.ports import RedemptionIntake
from redeem_service.domain.redemption import Redemption
from shared.application.events import IntegrationEvent, Topic
from shared.messaging.schemas import EventSchemas
from shared.persistence.outbox import SqlAlchemyOutbox, insert_one_for_each_row_of

_ACCEPT = insert_one_for_each_row_of(ADD_REDEMPTION.cte("added"))


class SqlAlchemyRedemptionIntake(RedemptionIntake):
    def __init__(
        self, engine: Engine, schemas: EventSchemas, statement_timeout_ms: int = 15_000
    ) -> None:
        self._engine = engine
        self._schemas = schemas
        self._statement_timeout_ms = statement_timeout_ms

    def accept(self, redemption: Redemption, event: IntegrationEvent) -> bool:
        with self._engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            statement_timeout.bound_session(connection, self._statement_timeout_ms)
            event_row = SqlAlchemyOutbox(connection, self._schemas).row(Topic.REDEEM_EVENTS, event)
            result = connection.execute(_ACCEPT, {**redemption_row(redemption), **event_row})
            return result.first() is not None
