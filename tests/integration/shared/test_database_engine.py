"""The shared engine factory against the real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.persistence.database import connect_args, create_database_engine
from tests.support.infra import Infra


def test_a_failed_statement_s_message_does_not_carry_its_values(infra: Infra) -> None:
    engine = create_database_engine({"url": infra.postgres_admin_url, "pool": {"size": 1}})
    try:
        with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
            connection.execute(
                text("SELECT CAST(:secret AS text), 1 / 0"),
                {"secret": "argon2-hash-of-a-secret"},
            )
    finally:
        engine.dispose()
    message = str(failed.value)
    assert "argon2-hash-of-a-secret" not in message
    assert "SQL parameters hidden" in message


def test_connections_give_up_on_a_silent_server_instead_of_waiting_for_the_kernel(
    infra: Infra,
) -> None:
    args = connect_args({"tcp_user_timeout_ms": 7000}, 15000)
    assert (args["keepalives"], args["tcp_user_timeout"]) == (1, 7000)
    assert args["keepalives_idle"] + args["keepalives_interval"] * args["keepalives_count"] <= 30
    # libpq takes them (a Unix socket ignores them; TCP, as on RDS, applies them).
    engine = create_database_engine({"url": infra.postgres_admin_url, "pool": {"size": 1}})
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
