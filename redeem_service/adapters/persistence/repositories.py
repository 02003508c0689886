"""SQLAlchemy repositories of wallets, their transactions and redemptions (rows ↔ domain objects).

Balances change through single conditional statements — the guard (never below zero, never past
the limit) is part of the UPDATE itself — so concurrent changes of one wallet serialise on its row
and no read-modify-write race can break the ledger. A single transaction's change and its log line
are one statement (a data-modifying CTE), atomic even without a surrounding transaction. Batches
(points from partner events, redemption decisions) lock their wallets in player order first and
then change every balance in one statement over arrays (``unnest``), so a batch costs a handful of
round trips whatever its size.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn

from sqlalchemy import Connection, Text, bindparam, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError

from redeem_service.adapters.persistence.tables import (
    players,
    redemptions,
    transactions,
    wallets,
)
from redeem_service.domain.exceptions import (
    BalanceLimitExceeded,
    InsufficientBalance,
    RedemptionAlreadyDecided,
)
from redeem_service.domain.model import (
    MAX_BALANCE,
    Amount,
    Currency,
    TransactionRequest,
    TransactionSource,
    TransactionType,
    Wallet,
    WalletTransaction,
)
from redeem_service.domain.ports import (
    LedgerDiscrepancy,
    PlayerRepository,
    RedemptionFilter,
    RedemptionRepository,
    TransactionFilter,
    TransactionRepository,
    WalletRepository,
)
from redeem_service.domain.redemption import (
    Merchant,
    Redemption,
    RedemptionChannel,
    RedemptionStatus,
    RejectionReason,
)
from shared import json_text
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


def _post_statement(change: Any) -> Any:
    """The balance change and its log line as one statement, so it is atomic on its own (one
    round trip, no transaction around it): the log line is written only when the guarded change
    returned the wallet, with the balances right after it; a taken idempotency key fails the
    whole statement, the balance change included."""
    changed = change.cte("changed")
    logged_values: dict[str, Any] = {
        "id": bindparam("t_id", type_=transactions.c.id.type),
        "player_id": changed.c.player_id,
        "amount": bindparam("t_amount", type_=transactions.c.amount.type),
        "currency": bindparam("t_currency", type_=transactions.c.currency.type),
        "type": bindparam("t_type", type_=transactions.c.type.type),
        "description": bindparam("t_description", type_=transactions.c.description.type),
        "additional_data": cast(bindparam("t_data", type_=Text), JSONB),
        "idempotency_key": bindparam("t_key", type_=transactions.c.idempotency_key.type),
        "actor": bindparam("t_actor", type_=transactions.c.actor.type),
        "source": bindparam("t_source", type_=transactions.c.source.type),
        "bonus_balance_after": changed.c.bonus_balance,
        "points_balance_after": changed.c.points_balance,
        "created_at": bindparam("t_at", type_=transactions.c.created_at.type),
    }
    names = [column.name for column in transactions.c if column.name != "seq"]
    logged = (
        insert(transactions)
        .from_select(names, select(*(logged_values[name] for name in names)).select_from(changed))
        .cte("logged")
    )
    return select(changed.c.player_id, changed.c.bonus_balance, changed.c.points_balance).add_cte(
        logged
    )


_POST_CREDIT = _post_statement(_CREDIT)
_POST_DEBIT = {currency: _post_statement(statement) for currency, statement in _DEBIT.items()}
IDEMPOTENCY_KEY_CONSTRAINT = "uq_transactions_idempotency_key"


def _constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


# Wallets of a batch: opened when missing, then locked in player order (a fixed order, so two
# batches sharing players wait for each other instead of deadlocking).
_CREATE_MISSING = text(
    """
    INSERT INTO wallets (player_id, bonus_balance, points_balance, version, created_at, updated_at)
    SELECT player_id, 0, 0, 0, :now, :now
    FROM unnest(CAST(:players AS text[])) AS player_id
    ORDER BY player_id
    ON CONFLICT (player_id) DO NOTHING
    """
)
_LOCK = text(
    """
    SELECT player_id, bonus_balance, points_balance FROM wallets
    WHERE player_id = ANY(CAST(:players AS text[]))
    ORDER BY player_id
    FOR UPDATE
    """
)
_ADD_POINTS = """
    UPDATE wallets AS w
    SET points_balance = w.points_balance + c.change,
        version = w.version + 1,
        updated_at = :now
    FROM unnest(CAST(:players AS text[]), CAST(:changes AS bigint[])) AS c(player_id, change)
    WHERE w.player_id = c.player_id {guard}
    RETURNING w.player_id, w.bonus_balance, w.points_balance
"""
_ADD_POINTS_ANY = text(_ADD_POINTS.format(guard=""))
_ADD_POINTS_GUARDED = text(_ADD_POINTS.format(guard="AND w.points_balance + c.change >= 0"))


_PLAYER_EXISTS = select(
    select(players.c.id).where(players.c.id == bindparam("player")).exists()
    | select(wallets.c.player_id).where(wallets.c.player_id == bindparam("player")).exists()
)

_REGISTERED_AMONG = text("SELECT id FROM players WHERE id = ANY(CAST(:players AS text[]))")


class SqlAlchemyPlayerRepository(PlayerRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_new(self, registrations: Sequence[tuple[str, datetime]]) -> None:
        if registrations:
            self._connection.execute(
                insert(players)
                .values([{"id": p, "registered_at": at} for p, at in registrations])
                .on_conflict_do_nothing(index_elements=[players.c.id])
            )

    def exists(self, player_id: str) -> bool:
        return bool(self._connection.execute(_PLAYER_EXISTS, {"player": player_id}).scalar())

    def registered_among(self, player_ids: Collection[str]) -> set[str]:
        if not player_ids:
            return set()
        rows = self._connection.execute(_REGISTERED_AMONG, {"players": list(player_ids)})
        return {row.id for row in rows}


class SqlAlchemyWalletRepository(WalletRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def get(self, player_id: str) -> Wallet | None:
        row = self._connection.execute(_GET_WALLET, {"player_id": player_id}).first()
        return _wallet(row) if row else None

    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        transaction_id = str(uuid.uuid4())
        amount = request.amount
        parameters: dict[str, Any] = {
            "t_id": transaction_id,
            "t_amount": amount.value,
            "t_currency": amount.currency.value,
            "t_type": request.kind.value,
            "t_description": request.description,
            "t_data": json_text.dumps(dict(request.additional_data)),
            "t_key": request.idempotency_key,
            "t_actor": request.actor,
            "t_source": request.source.value,
            "t_at": now,
        }
        if request.kind is TransactionType.CREDIT:
            bonus = amount.currency is Currency.BONUS
            statement = _POST_CREDIT
            parameters.update(
                player_id=request.player_id,
                bonus=amount.value if bonus else Decimal("0.00"),
                points=0 if bonus else amount.points,
                now=now,
                **_LIMITS,
            )
        else:
            statement = _POST_DEBIT[amount.currency]
            parameters.update(
                wallet=request.player_id,
                debit=amount.value if amount.currency is Currency.BONUS else amount.points,
                at=now,
            )
        try:
            row = self._connection.execute(statement, parameters).first()
        except IntegrityError as exc:
            if _constraint(exc) == IDEMPOTENCY_KEY_CONSTRAINT:
                return None  # the whole statement failed: no balance change either
            raise
        if row is None:
            self._refused(request)
        return WalletTransaction.record(request, _wallet(row), now, transaction_id=transaction_id)

    def _refused(self, request: TransactionRequest) -> NoReturn:
        # Refused by the guard: let the domain say why, from the balance as it is now.
        current = self.get(request.player_id) or Wallet(request.player_id)
        current.apply(request.kind, request.amount)
        # The balance moved between the two statements; the guard's answer stands.
        if request.kind is TransactionType.DEBIT:
            raise InsufficientBalance()
        raise BalanceLimitExceeded()

    def create_missing(self, player_ids: Collection[str], now: datetime) -> None:
        if player_ids:
            self._connection.execute(_CREATE_MISSING, {"players": list(player_ids), "now": now})

    def lock(self, player_ids: Collection[str]) -> dict[str, Wallet]:
        if not player_ids:
            return {}
        rows = self._connection.execute(_LOCK, {"players": list(player_ids)})
        return {row.player_id: _wallet(row) for row in rows}

    def add_points(
        self, changes: Mapping[str, int], now: datetime, *, allow_negative: bool
    ) -> dict[str, Wallet]:
        if not changes:
            return {}
        statement = _ADD_POINTS_ANY if allow_negative else _ADD_POINTS_GUARDED
        players = sorted(changes)
        rows = self._connection.execute(
            statement,
            {"players": players, "changes": [changes[p] for p in players], "now": now},
        )
        return {row.player_id: _wallet(row) for row in rows}


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
        additional_data=json_text.loads(row.additional_data, exact_numbers=True),
        idempotency_key=row.idempotency_key,
        actor=row.actor,
        source=TransactionSource(row.source),
        created_at=row.created_at,
        bonus_after=row.bonus_balance_after,
        points_after=int(row.points_balance_after),
    )


# A batch as one statement over arrays, in the batch's order (``seq`` follows it): a multi-row
# VALUES list costs the driver more CPU to parse than the database takes to run it.
_ADD_TRANSACTIONS = text(
    """
    INSERT INTO transactions (id, player_id, amount, currency, type, description,
                              additional_data, idempotency_key, actor, source,
                              bonus_balance_after, points_balance_after, created_at)
    SELECT id, player_id, amount, currency, type, description, additional_data::jsonb,
           idempotency_key, actor, source, bonus_after, points_after, created_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:players AS text[]), CAST(:amounts AS numeric[]),
                CAST(:currencies AS text[]), CAST(:types AS text[]),
                CAST(:descriptions AS text[]), CAST(:data AS text[]), CAST(:keys AS text[]),
                CAST(:actors AS text[]), CAST(:sources AS text[]),
                CAST(:bonus_after AS numeric[]), CAST(:points_after AS bigint[]),
                CAST(:created AS timestamptz[]))
         WITH ORDINALITY
         AS t(id, player_id, amount, currency, type, description, additional_data,
              idempotency_key, actor, source, bonus_after, points_after, created_at, position)
    ORDER BY position
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
    """
)
# The additional data crosses the driver as text, both ways: read as jsonb, its numbers would
# become floats (12345678901234567.89 → 12345678901234568, 1e-400 → 0.0); PostgreSQL keeps them
# exactly (numeric) and writes them back in full.
_TRANSACTION_COLUMNS = [
    cast(column, Text).label(column.name) if column is transactions.c.additional_data else column
    for column in transactions.c
]
_BY_KEY = select(*_TRANSACTION_COLUMNS).where(transactions.c.idempotency_key == bindparam("key"))
_RECORDED_AWARDS = text(
    "SELECT idempotency_key, player_id, amount, type FROM transactions"
    " WHERE idempotency_key = ANY(CAST(:keys AS text[]))"
)


class SqlAlchemyTransactionRepository(TransactionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_many(self, transactions: Sequence[WalletTransaction]) -> int:
        if not transactions:
            return 0
        result = self._connection.execute(
            _ADD_TRANSACTIONS,
            {
                "ids": [t.id for t in transactions],
                "players": [t.player_id for t in transactions],
                "amounts": [t.amount.value for t in transactions],
                "currencies": [t.currency.value for t in transactions],
                "types": [t.kind.value for t in transactions],
                "descriptions": [t.description for t in transactions],
                "data": [json_text.dumps(dict(t.additional_data)) for t in transactions],
                "keys": [t.idempotency_key for t in transactions],
                "actors": [t.actor for t in transactions],
                "sources": [t.source.value for t in transactions],
                "bonus_after": [t.bonus_after for t in transactions],
                "points_after": [t.points_after for t in transactions],
                "created": [t.created_at for t in transactions],
            },
        )
        return len(result.all())

    def recorded_awards(self, keys: Collection[str]) -> dict[str, tuple[str, int]]:
        if not keys:
            return {}
        rows = self._connection.execute(_RECORDED_AWARDS, {"keys": list(keys)})
        return {
            row.idempotency_key: (
                row.player_id,
                int(row.amount) if row.type == TransactionType.CREDIT.value else -int(row.amount),
            )
            for row in rows
        }

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
            select(*_TRANSACTION_COLUMNS)
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


def _redemption(row: Any) -> Redemption:
    return Redemption(
        id=str(row.id),
        player_id=row.player_id,
        points=int(row.points),
        reward_description=row.reward_description,
        requested_by=row.requested_by,
        requested_by_player=row.requested_by_player,
        channel=RedemptionChannel(row.channel),
        created_at=row.created_at,
        request_hash=row.request_hash,
        merchant=Merchant.from_dict(row.merchant),
        idempotency_key=row.idempotency_key,
        status=RedemptionStatus(row.status),
        reason=RejectionReason(row.reason) if row.reason else None,
        transaction_id=str(row.transaction_id) if row.transaction_id else None,
        points_balance=None if row.points_balance is None else int(row.points_balance),
        decided_at=row.decided_at,
    )


def redemption_row(redemption: Redemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "player_id": redemption.player_id,
        "points": redemption.points,
        "reward_description": redemption.reward_description,
        "merchant": redemption.merchant.to_dict() if redemption.merchant else None,
        "status": redemption.status.value,
        "reason": redemption.reason.value if redemption.reason else None,
        "channel": redemption.channel.value,
        "idempotency_key": redemption.idempotency_key,
        "request_hash": redemption.request_hash,
        "requested_by": redemption.requested_by,
        "requested_by_player": redemption.requested_by_player,
        "transaction_id": redemption.transaction_id,
        "points_balance": redemption.points_balance,
        "created_at": redemption.created_at,
        "decided_at": redemption.decided_at,
    }


_REDEMPTION_VALUES = insert(redemptions).values(
    {column: bindparam(column.name, type_=column.type) for column in redemptions.c}
)
# A new request: nothing is written when the requester already used the key (see intake.py).
ADD_REDEMPTION = _REDEMPTION_VALUES.on_conflict_do_nothing(
    index_elements=[redemptions.c.requested_by, redemptions.c.idempotency_key]
).returning(redemptions.c.id)
# Requests that arrived as events, as one statement over arrays: nothing is written for an id
# already stored.
_ADD_MISSING_REDEMPTIONS = text(
    """
    INSERT INTO redemptions (id, player_id, points, reward_description, merchant, status,
                             channel, request_hash, requested_by, created_at)
    SELECT id, player_id, points, reward_description, merchant::jsonb, 'PENDING', channel,
           request_hash, requested_by, created_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:players AS text[]), CAST(:points AS bigint[]),
                CAST(:descriptions AS text[]), CAST(:merchants AS text[]),
                CAST(:channels AS text[]), CAST(:hashes AS text[]),
                CAST(:requesters AS text[]), CAST(:created AS timestamptz[]))
         AS r(id, player_id, points, reward_description, merchant, channel, request_hash,
              requested_by, created_at)
    ORDER BY id
    ON CONFLICT (id) DO NOTHING
    """
)
_GET_REDEMPTION = select(redemptions).where(redemptions.c.id == bindparam("id"))
_REDEMPTION_BY_KEY = select(redemptions).where(
    redemptions.c.requested_by == bindparam("requested_by"),
    redemptions.c.idempotency_key == bindparam("key"),
)
_LOCK_REDEMPTIONS = text(
    "SELECT * FROM redemptions WHERE id = ANY(CAST(:ids AS uuid[])) ORDER BY id FOR UPDATE"
)
_SAVE_DECISIONS = text(
    """
    UPDATE redemptions AS r
    SET status = d.status, reason = d.reason, transaction_id = d.transaction_id,
        points_balance = d.points_balance, decided_at = d.decided_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:reasons AS text[]),
                CAST(:transactions AS uuid[]), CAST(:balances AS bigint[]),
                CAST(:decided AS timestamptz[]))
         AS d(id, status, reason, transaction_id, points_balance, decided_at)
    WHERE r.id = d.id AND r.status = 'PENDING'
    """
)


class SqlAlchemyRedemptionRepository(RedemptionRepository):
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add_missing(self, redemptions: Sequence[Redemption]) -> None:
        if not redemptions:
            return
        if any(not r.is_pending or r.idempotency_key is not None for r in redemptions):
            raise ValueError("only new requests without a caller's key arrive as events")
        self._connection.execute(
            _ADD_MISSING_REDEMPTIONS,
            {
                "ids": [r.id for r in redemptions],
                "players": [r.player_id for r in redemptions],
                "points": [r.points for r in redemptions],
                "descriptions": [r.reward_description for r in redemptions],
                "merchants": [
                    json.dumps(r.merchant.to_dict()) if r.merchant else None for r in redemptions
                ],
                "channels": [r.channel.value for r in redemptions],
                "hashes": [r.request_hash for r in redemptions],
                "requesters": [r.requested_by for r in redemptions],
                "created": [r.created_at for r in redemptions],
            },
        )

    def get(self, redemption_id: str) -> Redemption | None:
        row = self._connection.execute(_GET_REDEMPTION, {"id": redemption_id}).first()
        return _redemption(row) if row else None

    def get_by_idempotency_key(self, requested_by: str, key: str) -> Redemption | None:
        row = self._connection.execute(
            _REDEMPTION_BY_KEY, {"requested_by": requested_by, "key": key}
        ).first()
        return _redemption(row) if row else None

    def lock(self, redemption_ids: Collection[str]) -> dict[str, Redemption]:
        if not redemption_ids:
            return {}
        rows = self._connection.execute(_LOCK_REDEMPTIONS, {"ids": list(redemption_ids)})
        return {str(row.id): _redemption(row) for row in rows}

    def save_decisions(self, redemptions: Sequence[Redemption]) -> None:
        if not redemptions:
            return
        result = self._connection.execute(
            _SAVE_DECISIONS,
            {
                "ids": [r.id for r in redemptions],
                "statuses": [r.status.value for r in redemptions],
                "reasons": [r.reason.value if r.reason else None for r in redemptions],
                "transactions": [r.transaction_id for r in redemptions],
                "balances": [r.points_balance for r in redemptions],
                "decided": [r.decided_at for r in redemptions],
            },
        )
        if result.rowcount != len(redemptions):
            raise RedemptionAlreadyDecided()

    def list(self, filters: RedemptionFilter, page: PageRequest) -> Page[Redemption]:
        conditions = [redemptions.c.player_id == filters.player_id]
        if filters.status is not None:
            conditions.append(redemptions.c.status == filters.status.value)
        if filters.requested_by is not None:
            conditions.append(redemptions.c.requested_by == filters.requested_by)
        total = self._connection.execute(
            select(func.count()).select_from(redemptions).where(*conditions)
        ).scalar_one()
        rows = self._connection.execute(
            select(redemptions)
            .where(*conditions)
            .order_by(redemptions.c.created_at.desc(), redemptions.c.id.desc())
            .limit(page.page_size)
            .offset(page.offset)
        ).all()
        return Page(items=[_redemption(r) for r in rows], total=total, request=page)
