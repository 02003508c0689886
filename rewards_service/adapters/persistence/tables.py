"""Tables of the ``rewards`` database (the Alembic migrations create exactly these; the CHECK and
exclusion constraints are declared in the migrations, where the database enforces them)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from shared.persistence.outbox import outbox_table
from shared.persistence.processed_events import processed_events_table

metadata = MetaData()

promotions = Table(
    "promotions",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("description", String(2000), nullable=False, server_default=""),
    Column("type", String(32), nullable=False),
    # Unconstrained NUMERIC so a third decimal is refused by a CHECK instead of rounded away.
    Column("amount", Numeric(asdecimal=True), nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("start_date", DateTime(timezone=True), nullable=False),
    Column("end_date", DateTime(timezone=True), nullable=False),
    Column("max_claims", Integer, nullable=True),
    Column("max_claims_per_player", Integer, nullable=False, server_default="1"),
    Column("claims_count", Integer, nullable=False, server_default="0"),
    Column("created_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_promotions_type_start_date", promotions.c.type, promotions.c.start_date)
Index("ix_promotions_start_date", promotions.c.start_date)

players = Table(
    "players",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

player_promotions = Table(
    "player_promotions",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("player_id", UUID(as_uuid=False), ForeignKey("players.id"), nullable=False),
    Column("promotion_id", UUID(as_uuid=False), ForeignKey("promotions.id"), nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("claim_count", Integer, nullable=False, server_default="0"),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("assigned_by", String(64), nullable=True),
    Column("last_claimed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("player_id", "promotion_id", name="uq_player_promotions_player_promotion"),
)
Index(
    "ix_player_promotions_player_assigned_at",
    player_promotions.c.player_id,
    player_promotions.c.assigned_at.desc(),
)
Index("ix_player_promotions_promotion", player_promotions.c.promotion_id)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
