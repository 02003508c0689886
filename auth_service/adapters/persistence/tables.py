"""Tables of the ``auth`` database (the Alembic migrations create exactly these)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from shared.persistence.outbox import outbox_table
from shared.persistence.processed_events import processed_events_table

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_name", String(100), nullable=False, server_default=""),
    Column("last_name", String(100), nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
Index("ix_users_role_status", users.c.role, users.c.status)

partner_clients = Table(
    "partner_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(255), nullable=False),
    Column("scopes", ARRAY(String(64)), nullable=False),
    Column("event_sources", ARRAY(String(16)), nullable=False, server_default="{}"),
    Column("status", String(16), nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", String(64), nullable=True),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    Column("secret_rotated_at", DateTime(timezone=True), nullable=True),
    Column("previous_secret_hash", String(255), nullable=True),
    Column("previous_secret_expires_at", DateTime(timezone=True), nullable=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key_pem", LargeBinary, nullable=False),
    Column("public_jwk", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("retire_after", DateTime(timezone=True), nullable=True),
)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
