"""Promotions, players, player promotions, outbox and processed events.

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

PROMOTION_TYPES = ("WELCOME_BONUS", "DEPOSIT_MATCH", "FREE_SPINS", "CASHBACK", "VIP", "BONUS")
# One exclusion constraint per type of which a single active promotion may run at a time.
UNIQUE_TYPES = ("WELCOME_BONUS",)


def _exclusion_name(promotion_type: str) -> str:
    return f"ex_promotions_{promotion_type.lower()}_overlap"


def upgrade() -> None:
    types = ", ".join(f"'{t}'" for t in PROMOTION_TYPES)
    op.create_table(
        "promotions",
        sa.Column("id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False, server_default=""),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("amount", sa.Numeric(), nullable=False),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_claims", sa.Integer, nullable=True),
        sa.Column("max_claims_per_player", sa.Integer, nullable=False, server_default="1"),
        sa.Column("claims_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint(f"type IN ({types})", name="ck_promotions_type"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="ck_promotions_title"),
        # Money: not negative, bounded, and exactly representable in cents (never rounded).
        sa.CheckConstraint(
            "amount >= 0 AND amount <= 1000000 AND amount = trunc(amount, 2)",
            name="ck_promotions_amount",
        ),
        sa.CheckConstraint("end_date > start_date", name="ck_promotions_period"),
        sa.CheckConstraint("max_claims IS NULL OR max_claims > 0", name="ck_promotions_max_claims"),
        sa.CheckConstraint("max_claims_per_player > 0", name="ck_promotions_max_claims_per_player"),
        sa.CheckConstraint(
            "claims_count >= 0 AND (max_claims IS NULL OR claims_count <= max_claims)",
            name="ck_promotions_claims_count",
        ),
    )
    # pgserver ships no btree_gist, so the constraint uses only the range (whose GiST operator
    # class is built in); the type and the active flag go into the partial predicate instead.
    for promotion_type in UNIQUE_TYPES:
        op.execute(
            f"ALTER TABLE promotions ADD CONSTRAINT {_exclusion_name(promotion_type)} "
            "EXCLUDE USING gist (tstzrange(start_date, end_date, '[)') WITH &&) "
            f"WHERE (is_active AND type = '{promotion_type}')"
        )
    op.create_index("ix_promotions_type_start_date", "promotions", ["type", "start_date"])
    op.create_index("ix_promotions_start_date", "promotions", ["start_date"])

    op.create_table(
        "players",
        sa.Column("id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )

    op.create_table(
        "player_promotions",
        sa.Column("id", postgresql.UUID(as_uuid=False), primary_key=True),
        sa.Column(
            "player_id", postgresql.UUID(as_uuid=False), sa.ForeignKey("players.id"), nullable=False
        ),
        sa.Column(
            "promotion_id",
            postgresql.UUID(as_uuid=False),
            sa.ForeignKey("promotions.id"),
            nullable=False,
        ),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claim_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(64), nullable=True),
        sa.Column("last_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint(
            "player_id", "promotion_id", name="uq_player_promotions_player_promotion"
        ),
        sa.CheckConstraint("source IN ('WELCOME', 'STAFF')", name="ck_player_promotions_source"),
        # EXPIRED is computed from the promotion at read time, never stored.
        sa.CheckConstraint("status IN ('ASSIGNED', 'CLAIMED')", name="ck_player_promotions_status"),
        sa.CheckConstraint(
            "claim_count >= 0 AND (status <> 'CLAIMED' OR claim_count > 0)",
            name="ck_player_promotions_claim_count",
        ),
    )
    op.create_index(
        "ix_player_promotions_player_assigned_at",
        "player_promotions",
        ["player_id", sa.text("assigned_at DESC")],
    )
    op.create_index("ix_player_promotions_promotion", "player_promotions", ["promotion_id"])
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
    op.drop_index("ix_player_promotions_promotion", table_name="player_promotions")
    op.drop_index("ix_player_promotions_player_assigned_at", table_name="player_promotions")
    op.drop_table("player_promotions")
    op.drop_table("players")
    op.drop_index("ix_promotions_start_date", table_name="promotions")
    op.drop_index("ix_promotions_type_start_date", table_name="promotions")
    op.drop_table("promotions")
