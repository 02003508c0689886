"""Consumed event ids, recorded in the same transaction as the consumer's effect."""

from __future__ import annotations

from sqlalchemy import Column, Connection, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import insert

from shared.application.unit_of_work import ProcessedEvents

PROCESSED_EVENTS_TABLE = "processed_events"


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        PROCESSED_EVENTS_TABLE,
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


_processed = processed_events_table(MetaData())


class SqlAlchemyProcessedEvents(ProcessedEvents):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        if not event_ids:
            return set()
        statement = (
            insert(_processed)
            .values([{"consumer": consumer, "event_id": e} for e in dict.fromkeys(event_ids)])
            .on_conflict_do_nothing()
            .returning(_processed.c.event_id)
        )
        return {row.event_id for row in self._connection.execute(statement)}
