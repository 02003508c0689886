"""Migration 0004 marks the stored requests a player made themself over the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url
from shared.persistence.migrations import upgrade
from tests.support.infra import Infra, throwaway_database


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    with throwaway_database(infra, "redeem_0004") as url:
        yield url


def test_api_requests_whose_requester_is_their_player_are_marked_as_the_player_s_own(
    database: str,
) -> None:
    upgrade("redeem_service", database, revision="0003")
    rows = {
        "own": ("API", "p-1", "p-1"),
        "partner": ("API", "p-1", "hotel"),
        "event": ("EVENT", "ghost-x2", "ghost-x2"),
    }
    ids = {name: str(uuid.uuid4()) for name in rows}
    engine = create_engine(normalise_url(database))
    try:
        with engine.begin() as connection:
            for name, (channel, player, requester) in rows.items():
                connection.execute(
                    text(
                        "INSERT INTO redemptions (id, player_id, points, reward_description,"
                        " status, channel, request_hash, requested_by, created_at)"
                        " VALUES (:id, :player, 5, 'Show', 'PENDING', :channel, 'h', :requester,"
                        " now())"
                    ),
                    {"id": ids[name], "player": player, "channel": channel, "requester": requester},
                )
        upgrade("redeem_service", database)
        with engine.connect() as connection:
            marked: dict[str, bool] = dict(
                connection.execute(
                    text("SELECT id::text, requested_by_player FROM redemptions")
                ).all()
            )
    finally:
        engine.dispose()
    assert {name: marked[ids[name]] for name in rows} == {
        "own": True,
        "partner": False,
        "event": False,
    }
