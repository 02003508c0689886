"""The wallet's unit of work: one PostgreSQL transaction, its repositories, its outbox.

When the work in hand has a deadline (a gRPC call), the transaction's statements are bounded by
it, so the database stops working for a caller who has already given up.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from redeem_service.adapters.persistence.repositories import (
    SqlAlchemyTransactionRepository,
    SqlAlchemyWalletRepository,
)
from redeem_service.application.ports import RedeemUnitOfWork
from shared import deadline
from shared.persistence.database import SqlAlchemyUnitOfWork

_SET_STATEMENT_TIMEOUT = text("SELECT set_config('statement_timeout', :timeout, true)")


class SqlAlchemyRedeemUnitOfWork(SqlAlchemyUnitOfWork, RedeemUnitOfWork):
    def _bind(self, connection: Connection) -> None:
        remaining = deadline.remaining()
        if remaining is not None:
            milliseconds = max(1, int(remaining * 1000))
            connection.execute(_SET_STATEMENT_TIMEOUT, {"timeout": f"{milliseconds}ms"})
        self.wallets = SqlAlchemyWalletRepository(connection)
        self.transactions = SqlAlchemyTransactionRepository(connection)
