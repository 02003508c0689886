"""Tables of the ``rewards`` database (the Alembic migrations create exactly these; the CHECK and
exclusion constraints are declared in the migrations, where the database enforces them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
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

earning_rules = Table(
    "earning_rules",
    metadata,
    # Grows with every version added: its maximum is the rules' revision.
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("earning_type", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("parameters", JSONB, nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("earning_type", "version", name="uq_earning_rules_type_version"),
)

# A scheduled version taken back before it took effect. Ids come from the rules' sequence: the
# highest id of the two tables is the rules' revision.
earning_rule_withdrawals = Table(
    "earning_rule_withdrawals",
    metadata,
    Column(
        "id", BigInteger, primary_key=True, server_default=text("nextval('earning_rules_id_seq')")
    ),
    Column("earning_type", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_by", String(64), nullable=True),
    UniqueConstraint("earning_type", "version", name="uq_earning_rule_withdrawals_type_version"),
    ForeignKeyConstraint(
        ["earning_type", "version"],
        ["earning_rules.earning_type", "earning_rules.version"],
        name="fk_earning_rule_withdrawals_rule",
    ),
)

reward_events = Table(
    "reward_events",
    metadata,
    Column("event_id", UUID(as_uuid=False), primary_key=True),
    # Checked against players by the consumer in the same transaction (no foreign key: cost).
    Column("player_id", UUID(as_uuid=False), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("source", String(8), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("partner_id", String(64), nullable=False),
    Column("reference", String(100), nullable=True),
    Column("original_event_id", UUID(as_uuid=False), nullable=True),
    Column("status", String(16), nullable=False),
    Column("points_awarded", Integer, nullable=False),
    Column("rule_version", Integer, nullable=True),
    Column("payload", JSON, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("awarded_at", DateTime(timezone=True), nullable=True),
)
Index(
    "ix_reward_events_player_occurred_at",
    reward_events.c.player_id,
    reward_events.c.occurred_at,
)
Index(
    "ix_reward_events_original",
    reward_events.c.original_event_id,
    postgresql_where=text("original_event_id IS NOT NULL"),
)
# At most one reversal takes an original's points back.
Index(
    "uq_reward_events_one_reversal",
    reward_events.c.original_event_id,
    unique=True,
    postgresql_where=text("original_event_id IS NOT NULL AND status = 'AWARDED'"),
)

# Events of players not registered yet, until the registration arrives or the wait ends.
parked_reward_events = Table(
    "parked_reward_events",
    metadata,
    Column("event_id", UUID(as_uuid=False), primary_key=True),
    Column("player_id", UUID(as_uuid=False), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, Identity(always=True), nullable=False),
)
Index("ix_parked_reward_events_player", parked_reward_events.c.player_id)
Index("ix_parked_reward_events_parked_at", parked_reward_events.c.parked_at)

# Wallet credits a claim is about to ask for; removed by the claim's own commit (ADR 0014).
pending_wallet_credits = Table(
    "pending_wallet_credits",
    metadata,
    Column("idempotency_key", String(128), primary_key=True),
    Column("player_id", UUID(as_uuid=False), nullable=False),
    Column("promotion_id", UUID(as_uuid=False), nullable=False),
    Column("claim_number", Integer, nullable=False),
    Column("noted_at", DateTime(timezone=True), nullable=False),
)
Index("ix_pending_wallet_credits_noted_at", pending_wallet_credits.c.noted_at)


def _points_totals(name: str, period: str) -> Table:
    return Table(
        name,
        metadata,
        Column("player_id", UUID(as_uuid=False), nullable=False),
        Column(period, Date, nullable=False),
        Column("source", String(8), nullable=False),
        Column("points", BigInteger, nullable=False),
        Column("events", Integer, nullable=False),
        PrimaryKeyConstraint("player_id", period, "source", name=f"pk_{name}"),
    )


player_points_daily = _points_totals("player_points_daily", "day")
player_points_monthly = _points_totals("player_points_monthly", "month")

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
