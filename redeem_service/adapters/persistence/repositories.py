"""SQLAlchemy repositories of wallets and their transactions (rows ↔ domain objects).

Balances change through single conditional statements — the guard (never below zero, never past
the limit) is part of the UPDATE itself — so concurrent changes of one wallet serialise on its row
and no read-modify-write race can break the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from redeem_service.adapters.persistence.tables import transactions, wallets
from redeem_service.domain.exceptions import BalanceLimitExceeded, InsufficientBalance
from redeem_service.domain.model import (
    MAX_BALANCE,
    Amount,
    Currency,
    TransactionSource,
    TransactionType,
    Wallet,
    WalletTransaction,
)
from redeem_service.domain.ports import (
    LedgerDiscrepancy,
    TransactionFilter,
    TransactionRepository,
    WalletRepository,
)
from shared.domain.pagination import Page, PageRequest


def _wallet(row: Any) -> Wallet:
    return Wallet(player_id=row.player_id, bonus=row.bonus_balance, points=int(row.points_balance))


_RETURNING = (wallets.c.player_id, wallets.c.bonus_balance, wallets.c.points_balance)

# The hot statements are built once with bind parameters: building and hashing a statement per
# call costs more CPU than running it (see the benchmark in benchmarks/).
_GET_WALLET = select(*_RETURNING).where(wallets.c.player_id == bindparam("player_id"))


def _debit_statement(column: Any) -> Any:
    return (
        update(wallets)
        .where(wallets.c.player_id == bindparam("wallet"), column >= bindparam("debit"))
        .values(
            {
                column: column - bindparam("debit"),
                wallets.c.version: wallets.c.version + 1,
                wallets.c.updated_at: bindparam("at"),
            }
        )
        .returning(*_RETURNING)
    )


def _credit_statement() -> Any:
    # Creates the wallet with its first credit, or adds to it while under the limit.
    values = insert(wallets).values(
        player_id=bindparam("player_id"),
        bonus_balance=bindparam("bonus", type_=wallets.c.bonus_balance.type),
        points_balance=bindparam("points", type_=wallets.c.points_balance.type),
        version=1,
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    excluded = values.excluded
    return values.on_conflict_do_update(
        index_elements=[wallets.c.player_id],
        set_={
            "bonus_balance": wallets.c.bonus_balance + excluded.bonus_balance,
            "points_balance": wallets.c.points_balance + excluded.points_balance,
            "version": wallets.c.version + 1,
            "updated_at": excluded.updated_at,
        },
        where=(
            wallets.c.bonus_balance + excluded.bonus_balance
            <= bindparam("max_bonus", type_=wallets.c.bonus_balance.type)
        )
        & (
            wallets.c.points_balance + excluded.points_balance
            <= bindparam("max_points", type_=wallets.c.points_balance.type)
        ),
    ).returning(*_RETURNING)


_CREDIT = _credit_statement()
_DEBIT = {
    Currency.BONUS: _debit_statement(wallets.c.bonus_balance),
    Currency.POINTS: _debit_statement(wallets.c.points_balance),
}
_LIMITS = {
    "max_bonus": MAX_BALANCE[Currency.BONUS],
    "max_points": int(MAX_BALANCE[Currency.POINTS]),
}


class SqlAlchemyWalletRepository(WalletRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, player_id: str) -> Wallet | None:
        row = self._connection.execute(_GET_WALLET, {"player_id": player_id}).first()
        return _wallet(row) if row else None

    def apply(self, player_id: str, kind: TransactionType, amount: Amount, now: datetime) -> Wallet:
        if kind is TransactionType.CREDIT:
            bonus = amount.currency is Currency.BONUS
            parameters = {
                "player_id": player_id,
                "bonus": amount.value if bonus else Decimal("0.00"),
                "points": 0 if bonus else amount.points,
                "now": now,
                **_LIMITS,
            }
            row = self._connection.execute(_CREDIT, parameters).first()
        else:
            value: Decimal | int = (
                amount.value if amount.currency is Currency.BONUS else amount.points
            )
            row = self._connection.execute(
                _DEBIT[amount.currency], {"wallet": player_id, "debit": value, "at": now}
            ).first()
        if row is not None:
            return _wallet(row)
        # Refused by the guard: let the domain say why, from the balance as it is now.
        current = self.get(player_id) or Wallet(player_id)
        current.apply(kind, amount)
        # The balance moved between the two statements; the guard's answer stands.
        raise InsufficientBalance() if kind is TransactionType.DEBIT else BalanceLimitExceeded()


def _transaction(row: Any) -> WalletTransaction:
    currency = Currency(row.currency)
    return WalletTransaction(
        id=str(row.id),
        player_id=row.player_id,
        kind=TransactionType(row.type),
        amount=Amount(
            currency, row.amount if currency is Currency.BONUS else row.amount.quantize(Decimal(1))
        ),
        description=row.description,
        additional_data=dict(row.additional_data or {}),
        idempotency_key=row.idempotency_key,
        actor=row.actor,
        source=TransactionSource(row.source),
        created_at=row.created_at,
        bonus_after=row.bonus_balance_after,
        points_after=int(row.points_balance_after),
    )


_INSERTED = [column for column in transactions.c if column.name != "seq"]
_ADD_TRANSACTION = (
    insert(transactions)
    .values({column: bindparam(column.name, type_=column.type) for column in _INSERTED})
    .on_conflict_do_nothing(index_elements=[transactions.c.idempotency_key])
    .returning(transactions.c.id)
)
_BY_KEY = select(transactions).where(transactions.c.idempotency_key == bindparam("key"))


class SqlAlchemyTransactionRepository(TransactionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, transaction: WalletTransaction) -> bool:
        parameters = {
            "id": transaction.id,
            "player_id": transaction.player_id,
            "amount": transaction.amount.value,
            "currency": transaction.currency.value,
            "type": transaction.kind.value,
            "description": transaction.description,
            "additional_data": dict(transaction.additional_data),
            "idempotency_key": transaction.idempotency_key,
            "actor": transaction.actor,
            "source": transaction.source.value,
            "bonus_balance_after": transaction.bonus_after,
            "points_balance_after": transaction.points_after,
            "created_at": transaction.created_at,
        }
        return self._connection.execute(_ADD_TRANSACTION, parameters).first() is not None

    def get_by_idempotency_key(self, key: str) -> WalletTransaction | None:
        row = self._connection.execute(_BY_KEY, {"key": key}).first()
        return _transaction(row) if row else None

    def list(
        self, player_id: str, filters: TransactionFilter, page: PageRequest
    ) -> Page[WalletTransaction]:
        conditions = [transactions.c.player_id == player_id]
        if filters.currency is not None:
            conditions.append(transactions.c.currency == filters.currency.value)
        if filters.kind is not None:
            conditions.append(transactions.c.type == filters.kind.value)
        total = self._connection.execute(
            select(func.count()).select_from(transactions).where(*conditions)
        ).scalar_one()
        rows = self._connection.execute(
            select(transactions)
            .where(*conditions)
            .order_by(transactions.c.seq.desc())
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page(items=[_transaction(r) for r in rows], total=total, request=page)

    def discrepancies(self, limit: int = 100) -> Sequence[LedgerDiscrepancy]:
        rows = self._connection.execute(_DISCREPANCIES, {"limit": limit}).all()
        found: list[LedgerDiscrepancy] = []
        for row in rows:
            if row.bonus_balance != row.bonus_total:
                found.append(
                    LedgerDiscrepancy(
                        row.player_id, Currency.BONUS, row.bonus_balance, row.bonus_total
                    )
                )
            if row.points_balance != row.points_total:
                found.append(
                    LedgerDiscrepancy(
                        row.player_id,
                        Currency.POINTS,
                        Decimal(row.points_balance),
                        row.points_total,
                    )
                )
        return found


_DISCREPANCIES = text(
    """
    WITH totals AS (
        SELECT player_id,
               COALESCE(SUM(CASE WHEN type = 'CREDIT' THEN amount ELSE -amount END)
                        FILTER (WHERE currency = 'BONUS'), 0) AS bonus_total,
               COALESCE(SUM(CASE WHEN type = 'CREDIT' THEN amount ELSE -amount END)
                        FILTER (WHERE currency = 'POINTS'), 0) AS points_total
        FROM transactions
        GROUP BY player_id
    )
    SELECT w.player_id, w.bonus_balance, w.points_balance,
           COALESCE(t.bonus_total, 0) AS bonus_total, COALESCE(t.points_total, 0) AS points_total
    FROM wallets w
    LEFT JOIN totals t ON t.player_id = w.player_id
    WHERE w.bonus_balance <> COALESCE(t.bonus_total, 0)
       OR w.points_balance <> COALESCE(t.points_total, 0)
    ORDER BY w.player_id
    LIMIT :limit
    """
)
