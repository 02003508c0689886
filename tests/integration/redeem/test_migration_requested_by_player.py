"""Migration 0004 marks the pending requests a player made themself over the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url
from shared.persistence.migrations import upgrade
from tests.support.infra import Infra, throwaway_database


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    with throwaway_database(infra, "redeem_0004") as url:
        yield url


def test_pending_api_requests_whose_requester_is_their_player_are_marked_as_the_player_s_own(
    database: str,
) -> None:
    upgrade("redeem_service", database, revision="0003")
    rows = {
        "own": ("API", "p-1", "p-1", "PENDING"),
        "partner": ("API", "p-1", "hotel", "PENDING"),
        "event": ("EVENT", "ghost-x2", "ghost-x2", "PENDING"),
        # Decided requests are never decided again: the backfill leaves them alone.
        "decided": ("API", "p-2", "p-2", "REJECTED"),
    }
    ids = {name: str(uuid.uuid4()) for name in rows}
    engine = create_engine(normalise_url(database))
    try:
        with engine.begin() as connection:
            for name, (channel, player, requester, status) in rows.items():
                connection.execute(
                    text(
                        "INSERT INTO redemptions (id, player_id, points, reward_description,"
                        " status, channel, request_hash, requested_by, created_at, decided_at,"
                        " reason) VALUES (:id, :player, 5, 'Show', :status, :channel, 'h',"
                        " :requester, now(), :decided_at, :reason)"
                    ),
                    {
                        "id": ids[name],
                        "player": player,
                        "status": status,
                        "channel": channel,
                        "requester": requester,
                        "decided_at": None if status == "PENDING" else datetime.now(UTC),
                        "reason": None if status == "PENDING" else "PLAYER_INACTIVE",
                    },
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
        "decided": False,
    }
