"""Tables of the ``redeem`` database (the Alembic migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.persistence.outbox import outbox_table
from shared.persistence.processed_events import processed_events_table

metadata = MetaData()

wallets = Table(
    "wallets",
    metadata,
    Column("player_id", String(64), primary_key=True),
    Column("bonus_balance", Numeric(14, 2), nullable=False, server_default=text("0")),
    Column("points_balance", BigInteger, nullable=False, server_default=text("0")),
    Column("version", BigInteger, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("bonus_balance >= 0", name="ck_wallets_bonus_balance_non_negative"),
    CheckConstraint("points_balance >= 0", name="ck_wallets_points_balance_non_negative"),
)

transactions = Table(
    "transactions",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    # Insertion order, for a stable newest-first listing.
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column(
        "player_id",
        String(64),
        ForeignKey("wallets.player_id", name="fk_transactions_wallet"),
        nullable=False,
    ),
    Column("amount", Numeric(14, 2), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("type", String(8), nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("additional_data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("idempotency_key", String(128), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("source", String(16), nullable=False),
    Column("bonus_balance_after", Numeric(14, 2), nullable=False),
    Column("points_balance_after", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("idempotency_key", name="uq_transactions_idempotency_key"),
    CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
    CheckConstraint("currency IN ('BONUS', 'POINTS')", name="ck_transactions_currency"),
    CheckConstraint("type IN ('CREDIT', 'DEBIT')", name="ck_transactions_type"),
    CheckConstraint(
        "currency = 'BONUS' OR amount = trunc(amount)", name="ck_transactions_points_whole"
    ),
)
Index("ix_transactions_player_seq", transactions.c.player_id, transactions.c.seq.desc())

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
