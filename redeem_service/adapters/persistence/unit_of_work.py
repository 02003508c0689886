"""The wallet's unit of work: one PostgreSQL transaction, its repositories, its outbox.

When the work in hand has a deadline (a gRPC call), the transaction's statements are bounded by
it, so the database stops working for a caller who has already given up.
"""

from __future__ import annotations

from sqlalchemy import Connection

from redeem_service.adapters.persistence.repositories import (
    SqlAlchemyRedemptionRepository,
    SqlAlchemyTransactionRepository,
    SqlAlchemyWalletRepository,
)
from redeem_service.application.ports import RedeemUnitOfWork
from shared import deadline
from shared.persistence.database import SqlAlchemyUnitOfWork


class SqlAlchemyRedeemUnitOfWork(SqlAlchemyUnitOfWork, RedeemUnitOfWork):
    def _bind(self, connection: Connection) -> None:
        remaining = deadline.remaining()
        if remaining is not None:
            # An int rendered by us, so the plain driver call is safe (and cheap on a hot path).
            milliseconds = max(1, int(remaining * 1000))
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        self.wallets = SqlAlchemyWalletRepository(connection)
        self.transactions = SqlAlchemyTransactionRepository(connection)
        self.redemptions = SqlAlchemyRedemptionRepository(connection)
