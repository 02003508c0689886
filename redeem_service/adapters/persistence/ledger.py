"""Single wallet transactions posted as one autocommitted statement.

A transaction that needs nothing else in its database transaction (no outbox row) is atomic as
one statement (see ``SqlAlchemyWalletRepository.post``), so it is sent on an autocommit
connection: one round trip instead of BEGIN, the statements and COMMIT. The statement is bounded
by the caller's deadline like any unit of work's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from redeem_service.adapters.persistence import statement_timeout
from redeem_service.adapters.persistence.repositories import SqlAlchemyWalletRepository
from redeem_service.application.ports import Ledger
from redeem_service.domain.model import TransactionRequest, WalletTransaction


class SqlAlchemyLedger(Ledger):
    def __init__(self, engine: Engine, statement_timeout_ms: int = 15_000) -> None:
        self._engine = engine
        self._statement_timeout_ms = statement_timeout_ms

    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        with self._engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            statement_timeout.bound_session(connection, self._statement_timeout_ms)
            return SqlAlchemyWalletRepository(connection).post(request, now)
