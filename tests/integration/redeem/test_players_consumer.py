"""The wallet learns registered players from ``players`` (real PostgreSQL): once each, bad
registrations refused with their reason, and an adjustment for the player then goes through."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient
from sqlalchemy import text

from redeem_service.container import Container
from redeem_service.controllers.consumers import PlayerRegisteredHandler
from shared.application.events import IntegrationEvent
from tests.integration.redeem.conftest import bearer
from tests.integration.redeem.support import inbound
from tests.support.tokens import TestSigner


def registered(player_id: str, registered_at: str = "2026-12-01T10:00:00Z") -> IntegrationEvent:
    return IntegrationEvent(
        "PLAYER_REGISTERED",
        player_id,
        {"email": "new.player@example.com", "registeredAt": registered_at},
    )


def test_registrations_are_recorded_once_and_bad_ones_refused_with_their_reason(
    client: FlaskClient, redeem_container: Container, signer: TestSigner
) -> None:
    handler = PlayerRegisteredHandler(redeem_container.player_directory())
    player = str(uuid.uuid4())
    good = registered(player)
    not_a_uuid = registered("not-a-uuid")
    rejected = handler.handle(
        [
            inbound(good, "players", 0),
            inbound(not_a_uuid, "players", 1),
            inbound(registered(player.upper(), "2026-12-02T10:00:00Z"), "players", 2),
        ]
    )
    assert [(r.inbound.offset, r.reason) for r in rejected] == [(1, "invalid_player_id")]
    assert handler.handle([inbound(good, "players", 0)]) == []  # redelivered: nothing new
    with redeem_container.core.database().connect() as connection:
        rows = connection.execute(text("SELECT id, registered_at FROM players")).all()
    assert [(r.id, r.registered_at.isoformat()) for r in rows] == [
        (player, "2026-12-01T10:00:00+00:00")
    ]
    response = client.post(
        f"/api/v1/wallet/players/{player}/adjustments",
        json={"currency": "BONUS", "type": "CREDIT", "amount": "5.00", "reason": "Welcome desk"},
        headers={
            **bearer(signer.user_token("admin-1", "admin")),
            "Idempotency-Key": f"desk-{player}",
        },
    )
    assert response.status_code == 201, response.get_json()
