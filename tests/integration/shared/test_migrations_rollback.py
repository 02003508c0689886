"""A rollback to an earlier release runs that release's migrate step on a database a later
release already migrated: it must leave the database as it is, not fail the deploy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url
from shared.persistence.migrations import upgrade
from tests.support.infra import Infra, throwaway_database


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    with throwaway_database(infra, "rollback") as url:
        yield url


def revision(url: str) -> str:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar())
    finally:
        engine.dispose()


def test_a_database_ahead_of_the_code_is_left_as_it_is(database: str) -> None:
    upgrade("redeem_service", database)
    engine = create_engine(normalise_url(database))
    with engine.begin() as connection:  # what the next release's migration would leave
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_next_release'"))
    engine.dispose()

    upgrade("redeem_service", database)  # Alembic: "Can't locate revision" before

    assert revision(database) == "9999_next_release"


def test_a_database_behind_the_code_is_migrated(database: str) -> None:
    upgrade("redeem_service", database, revision="base")
    upgrade("redeem_service", database)
    assert revision(database) not in {"None", "9999_next_release"}
