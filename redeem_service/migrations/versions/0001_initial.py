"""Wallets, the append-only transaction log, outbox and processed events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.persistence.migrations import create_messaging_tables, drop_messaging_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit log is append-only: the database itself refuses to change or delete a line.
APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION transactions_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'wallet transactions are append-only (% refused)', TG_OP
    USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""
APPEND_ONLY_TRIGGER = """
CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON transactions
FOR EACH ROW EXECUTE FUNCTION transactions_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "wallets",
        sa.Column("player_id", sa.String(64), primary_key=True),
        sa.Column("bonus_balance", sa.Numeric(14, 2), nullable=False, server_default=sa.text("0")),
        sa.Column("points_balance", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("version", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("bonus_balance >= 0", name="ck_wallets_bonus_balance_non_negative"),
        sa.CheckConstraint("points_balance >= 0", name="ck_wallets_points_balance_non_negative"),
    )
    op.create_table(
        "transactions",
        sa.Column("id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column(
            "player_id",
            sa.String(64),
            sa.ForeignKey("wallets.player_id", name="fk_transactions_wallet"),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column(
            "additional_data",
            postgresql.JSONB,
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("bonus_balance_after", sa.Numeric(14, 2), nullable=False),
        sa.Column("points_balance_after", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_transactions_idempotency_key"),
        sa.CheckConstraint("amount > 0", name="ck_transactions_amount_positive"),
        sa.CheckConstraint("currency IN ('BONUS', 'POINTS')", name="ck_transactions_currency"),
        sa.CheckConstraint("type IN ('CREDIT', 'DEBIT')", name="ck_transactions_type"),
        sa.CheckConstraint(
            "currency = 'BONUS' OR amount = trunc(amount)", name="ck_transactions_points_whole"
        ),
    )
    op.create_index(
        "ix_transactions_player_seq",
        "transactions",
        ["player_id", sa.text("seq DESC")],
    )
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(APPEND_ONLY_TRIGGER)
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.execute("DROP TRIGGER IF EXISTS transactions_append_only ON transactions")
    op.execute("DROP FUNCTION IF EXISTS transactions_append_only()")
    op.drop_index("ix_transactions_player_seq", table_name="transactions")
    op.drop_table("transactions")
    op.drop_table("wallets")
