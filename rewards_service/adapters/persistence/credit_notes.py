"""A claim's note of the wallet credit it asks for, kept before the call as one autocommitted
statement: no BEGIN and COMMIT around it (one round trip, on a connection of its own), since it
must outlive the claim's transaction should that roll back (ADR 0014)."""

from __future__ import annotations

from sqlalchemy import Engine

from rewards_service.adapters.persistence.repositories import NOTE_CREDIT, note_row
from rewards_service.application.ports import CreditNotes
from rewards_service.domain.ports import PendingCredit


class SqlAlchemyCreditNotes(CreditNotes):
    def __init__(self, engine: Engine) -> None:
        # Its own autocommit engine over the same pool settings would double the connections;
        # an autocommit execution option on a pooled connection is reset when it is returned.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def note(self, pending: PendingCredit) -> None:
        with self._engine.connect() as connection:
            connection.execute(NOTE_CREDIT, note_row(pending))
