"""The wallet's unit of work: one PostgreSQL transaction, its repositories, its outbox.

When the work in hand has a deadline (a gRPC call), the transaction's statements are bounded by
it, so the database stops working for a caller who has already given up.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from redeem_service.adapters.persistence import statement_timeout
from redeem_service.adapters.persistence.repositories import (
    SqlAlchemyPlayerRepository,
    SqlAlchemyRedemptionRepository,
    SqlAlchemyTransactionRepository,
    SqlAlchemyWalletRepository,
)
from redeem_service.application.ports import RedeemUnitOfWork
from shared.messaging.schemas import EventSchemas
from shared.persistence.database import SqlAlchemyUnitOfWork


class SqlAlchemyRedeemUnitOfWork(SqlAlchemyUnitOfWork, RedeemUnitOfWork):
    def __init__(
        self,
        engine: Engine,
        schemas: EventSchemas | None = None,
        statement_timeout_ms: int = 15_000,
    ) -> None:
        super().__init__(engine, schemas)
        self._statement_timeout_ms = statement_timeout_ms

    def _bind(self, connection: Connection) -> None:
        statement_timeout.bound_transaction(connection, self._statement_timeout_ms)
        self.players = SqlAlchemyPlayerRepository(connection)
        self.wallets = SqlAlchemyWalletRepository(connection)
        self.transactions = SqlAlchemyTransactionRepository(connection)
        self.redemptions = SqlAlchemyRedemptionRepository(connection)
