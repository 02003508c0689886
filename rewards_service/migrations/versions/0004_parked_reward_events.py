"""Partner events of players not registered yet wait here for the registration instead of being
dead-lettered at once (a stay posted a moment after sign-up races the registration event).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_reward_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("player_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        # The order they were consumed in, kept when they are published again.
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
    )
    op.create_index("ix_parked_reward_events_player", "parked_reward_events", ["player_id"])
    op.create_index("ix_parked_reward_events_parked_at", "parked_reward_events", ["parked_at"])


def downgrade() -> None:
    op.drop_table("parked_reward_events")
