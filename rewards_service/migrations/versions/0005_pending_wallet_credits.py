"""A claim notes its wallet credit before the wallet call, in a transaction of its own, and
removes the note in the claim's transaction: a note left behind is a claim that rolled back after
the call, which the reconciliation resolves from what the wallet recorded (ADR 0014 addendum).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_wallet_credits",
        sa.Column("idempotency_key", sa.String(128), primary_key=True),
        sa.Column("player_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("promotion_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("claim_number", sa.Integer, nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_wallet_credits_noted_at", "pending_wallet_credits", ["noted_at"])


def downgrade() -> None:
    op.drop_table("pending_wallet_credits")
