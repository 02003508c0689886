"""Alembic per SQL service: building its config, upgrading, and the body of each ``env.py``."""

from __future__ import annotations

from importlib import resources

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import MetaData, create_engine, pool
from sqlalchemy.engine import make_url

from shared.observability.logging import get_logger
from shared.persistence.database import normalise_url

log = get_logger(__name__)


def alembic_config(service_package: str, url: str) -> Config:
    """Alembic configuration for ``<service_package>/migrations`` against ``url``."""
    location = resources.files(service_package) / "migrations"
    config = Config()
    config.set_main_option("script_location", str(location))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = normalise_url(url)
    return config


def upgrade(service_package: str, url: str, revision: str = "head") -> None:
    """Migrate to ``revision``. A database already at a revision this code does not know (a
    rollback to an earlier release, whose code runs on the newer schema by the expand/contract
    rule) is left as it is, with a warning, instead of failing the release's migrate step."""
    config = alembic_config(service_package, url)
    ahead = database_revisions_unknown_to(config)
    if ahead:
        log.warning(
            "migrations_skipped_database_ahead",
            service=service_package,
            database_revisions=sorted(ahead),
        )
        return
    command.upgrade(config, revision)


def database_revisions_unknown_to(config: Config) -> set[str]:
    """The database's current revisions that ``config``'s migration scripts do not have."""
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    engine = create_engine(str(config.attributes["url"]), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current - known


def ensure_database(url: str) -> bool:
    """Create the database named in ``url`` when it does not exist (embedded and test servers).

    Production databases are provisioned by infrastructure, never created by the services.
    Returns True when the database was created.
    """
    parsed = make_url(normalise_url(url))
    name = parsed.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = parsed.set(drivername="postgresql", database="postgres")
    dsn = admin.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists:
            return False
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (test clean-up)."""
    parsed = make_url(normalise_url(url))
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(parsed.database or "")
            )
        )


def run_env(target_metadata: MetaData) -> None:
    """The body of a service's ``migrations/env.py`` (online mode only: we always have a DB)."""
    from alembic import context

    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to alembic")
    # As the services' engines: a failed statement's message must not carry the values.
    engine = create_engine(normalise_url(url), poolclass=pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_messaging_tables() -> None:
    """The outbox (with its NOTIFY trigger) and processed events, for a service's first
    migration. Later changes to these tables get migrations of their own, never edits here."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    from shared.persistence.outbox import NOTIFY_FUNCTION_DDL, NOTIFY_TRIGGER_DDL

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("message_key", sa.String(100), nullable=False),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("headers", postgresql.JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.execute(NOTIFY_FUNCTION_DDL)
    op.execute(NOTIFY_TRIGGER_DDL)
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def drop_messaging_tables() -> None:
    from alembic import op

    from shared.persistence.outbox import DROP_NOTIFY_DDL

    op.drop_table("processed_events")
    for statement in DROP_NOTIFY_DDL:
        op.execute(statement)
    op.drop_table("outbox")
