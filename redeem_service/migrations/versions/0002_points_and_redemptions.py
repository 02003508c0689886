"""Points from partner events and redemptions: reversals may take a points balance below zero;
the redemptions table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A reversal takes back points the player may have spent (ADR 0600): the balance can go
    # below zero; redemptions and debits keep their guard in the statement that applies them.
    op.drop_constraint("ck_wallets_points_balance_non_negative", "wallets", type_="check")
    op.create_table(
        "redemptions",
        sa.Column("id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("player_id", sa.String(64), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("reward_description", sa.String(200), nullable=False),
        sa.Column("merchant", postgresql.JSONB, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column(
            "transaction_id",
            postgresql.UUID(as_uuid=False),
            sa.ForeignKey("transactions.id", name="fk_redemptions_transaction"),
            nullable=True,
        ),
        sa.Column("points_balance", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "requested_by", "idempotency_key", name="uq_redemptions_requester_idempotency_key"
        ),
        sa.CheckConstraint("points > 0", name="ck_redemptions_points_positive"),
        sa.CheckConstraint(
            "status IN ('PENDING', 'CONFIRMED', 'REJECTED')", name="ck_redemptions_status"
        ),
        sa.CheckConstraint("channel IN ('API', 'EVENT')", name="ck_redemptions_channel"),
        sa.CheckConstraint(
            "(status = 'PENDING') = (decided_at IS NULL)",
            name="ck_redemptions_decided_when_final",
        ),
        sa.CheckConstraint(
            "(status = 'CONFIRMED') = (transaction_id IS NOT NULL)",
            name="ck_redemptions_confirmed_with_debit",
        ),
        sa.CheckConstraint(
            "(status = 'REJECTED') = (reason IS NOT NULL)",
            name="ck_redemptions_rejected_with_reason",
        ),
    )
    op.create_index(
        "ix_redemptions_player_created",
        "redemptions",
        ["player_id", sa.text("created_at DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_redemptions_player_created", table_name="redemptions")
    op.drop_table("redemptions")
    # Fails while a balance is below zero: settle those wallets (adjustments) first.
    op.create_check_constraint(
        "ck_wallets_points_balance_non_negative", "wallets", "points_balance >= 0"
    )
