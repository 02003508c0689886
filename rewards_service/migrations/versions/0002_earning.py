"""Earning: versioned earning rules (with the defaults), canonical partner events, and the
per-player daily and monthly points totals.

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

EARNING_TYPES = ("HOTEL_STAY", "CASINO_SPEND", "DINING")
EVENT_TYPES = (*EARNING_TYPES, *(f"{t}_REVERSED" for t in EARNING_TYPES))
SOURCES = ("HOTEL", "CASINO", "DINING")
STATUSES = ("AWARDED", "DUPLICATE", "PENDING", "REJECTED")

# Version 1 of each rule, effective since the epoch (hotel 10 a night; dining 5 a check plus 1
# per full $10; casino 1 per full $10 wagered).
DEFAULT_RULES = {
    "HOTEL_STAY": '{"pointsPerEvent": 0, "pointsPerNight": 10, "pointsPerUnit": 0, '
    '"unitAmount": "10.00"}',
    "CASINO_SPEND": '{"pointsPerEvent": 0, "pointsPerNight": 0, "pointsPerUnit": 1, '
    '"unitAmount": "10.00"}',
    "DINING": '{"pointsPerEvent": 5, "pointsPerNight": 0, "pointsPerUnit": 1, '
    '"unitAmount": "10.00"}',
}


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _totals_table(name: str, period: str) -> None:
    op.create_table(
        name,
        sa.Column("player_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column(period, sa.Date, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("points", sa.BigInteger, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("player_id", period, "source", name=f"pk_{name}"),
        sa.CheckConstraint(_in("source", SOURCES), name=f"ck_{name}_source"),
        sa.CheckConstraint("events >= 0", name=f"ck_{name}_events"),
    )


def upgrade() -> None:
    op.create_table(
        "earning_rules",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("earning_type", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parameters", postgresql.JSONB, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.UniqueConstraint("earning_type", "version", name="uq_earning_rules_type_version"),
        sa.CheckConstraint(_in("earning_type", EARNING_TYPES), name="ck_earning_rules_type"),
        sa.CheckConstraint("version > 0", name="ck_earning_rules_version"),
        sa.CheckConstraint(
            "jsonb_typeof(parameters) = 'object'", name="ck_earning_rules_parameters"
        ),
    )
    for earning_type, parameters in DEFAULT_RULES.items():
        op.execute(
            sa.text(
                "INSERT INTO earning_rules (earning_type, version, effective_from, parameters, "
                "created_by) VALUES (:type, 1, '1970-01-01T00:00:00Z', CAST(:parameters AS jsonb), "
                "'migration')"
            ).bindparams(type=earning_type, parameters=parameters)
        )

    op.create_table(
        "reward_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=False), primary_key=True),
        # No foreign key to players: the consumer checks the batch's players in the same
        # transaction (players are never deleted), and the per-row check cost ~25% of the insert.
        sa.Column("player_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partner_id", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("original_event_id", postgresql.UUID(as_uuid=False), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("points_awarded", sa.Integer, nullable=False),
        sa.Column("rule_version", sa.Integer, nullable=True),
        # The event as received, for audit: json keeps it as sent and is cheaper to store than
        # jsonb (nothing queries inside it).
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("awarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("event_type", EVENT_TYPES), name="ck_reward_events_type"),
        sa.CheckConstraint(_in("source", SOURCES), name="ck_reward_events_source"),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_reward_events_status"),
        # A reversal names its original; nothing else does, and only reversals wait or are
        # refused after the fact.
        sa.CheckConstraint(
            "(original_event_id IS NOT NULL) = (event_type LIKE '%\\_REVERSED')",
            name="ck_reward_events_original",
        ),
        sa.CheckConstraint(
            "status IN ('AWARDED', 'DUPLICATE') OR original_event_id IS NOT NULL",
            name="ck_reward_events_pending_reversal",
        ),
        # Earnings never take points away; reversals never add any; pending ones hold none.
        sa.CheckConstraint(
            "CASE WHEN original_event_id IS NULL THEN points_awarded >= 0 "
            "ELSE points_awarded <= 0 END",
            name="ck_reward_events_points_sign",
        ),
        sa.CheckConstraint(
            "status IN ('AWARDED') OR points_awarded = 0", name="ck_reward_events_points_zero"
        ),
        sa.CheckConstraint(
            "(awarded_at IS NOT NULL) = (status IN ('AWARDED', 'DUPLICATE'))",
            name="ck_reward_events_awarded_at",
        ),
    )
    op.create_index(
        "ix_reward_events_player_occurred_at", "reward_events", ["player_id", "occurred_at"]
    )
    op.create_index(
        "ix_reward_events_original",
        "reward_events",
        ["original_event_id"],
        postgresql_where=sa.text("original_event_id IS NOT NULL"),
    )
    op.create_index(
        "uq_reward_events_one_reversal",
        "reward_events",
        ["original_event_id"],
        unique=True,
        postgresql_where=sa.text("original_event_id IS NOT NULL AND status = 'AWARDED'"),
    )
    _totals_table("player_points_daily", "day")
    _totals_table("player_points_monthly", "month")


def downgrade() -> None:
    op.drop_table("player_points_monthly")
    op.drop_table("player_points_daily")
    op.drop_index("uq_reward_events_one_reversal", table_name="reward_events")
    op.drop_index("ix_reward_events_original", table_name="reward_events")
    op.drop_index("ix_reward_events_player_occurred_at", table_name="reward_events")
    op.drop_table("reward_events")
    op.drop_table("earning_rules")
