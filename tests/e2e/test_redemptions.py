"""Points and redemptions end to end, over real processes: awards on ``reward-confirmed`` reach the
wallet and the player's socket; a REST redemption goes through ``redeem-events``, the worker and
``redeem-confirmed`` to the socket; partners produce requests directly; refusals and dead
letters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from shared.application.events import IntegrationEvent
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, wait_until, welcomed_player
from tests.support.kafka import TopicProbe, produce
from tests.support.websocket import connect, next_event, socket_url

WAIT = 30.0


def award(platform: RunningPlatform, player_id: str, points: int) -> IntegrationEvent:
    """What the rewards service publishes for a partner event (key = player id)."""
    event = IntegrationEvent(
        "REWARD_CONFIRMED",
        player_id,
        {
            "pointsAwarded": points,
            "sourceEventId": str(uuid.uuid4()),
            "sourceEventType": "HOTEL_STAY" if points > 0 else "HOTEL_STAY_REVERSED",
            "ruleVersion": 1,
            "partnerId": "hotel",
            "reference": "folio-1",
        },
    )
    produce(platform.infra.kafka_bootstrap, "reward-confirmed", event.to_message(), player_id)
    return event


def points_of(platform: RunningPlatform, player: Player) -> int:
    response = requests.get(
        f"{platform.url('redeem')}/api/v1/wallet/me", headers=player.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return int(response.json()["balances"]["points"])


def redeem(
    platform: RunningPlatform, token: str, points: int, key: str | None = None, **body: Any
) -> requests.Response:
    return requests.post(
        f"{platform.url('redeem')}/api/v1/redemptions",
        json={"points": points, "rewardDescription": "Dinner for two", **body},
        headers={
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key or uuid.uuid4().hex,
        },
        timeout=10,
    )


def redemption(platform: RunningPlatform, token: str, redemption_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{platform.url('redeem')}/api/v1/redemptions/{redemption_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def notification(ws: Any) -> dict[str, Any]:
    message = next_event(ws, timeout=WAIT)
    assert isinstance(message, dict), message
    return dict(message["notification"])


@pytest.fixture
def outcomes(platform: RunningPlatform) -> Iterator[TopicProbe]:
    probe = TopicProbe(platform.infra.kafka_bootstrap, "redeem-confirmed")
    yield probe
    probe.close()


def test_points_and_a_redemption_reach_the_wallet_and_the_player_s_socket(
    platform: RunningPlatform, outcomes: TopicProbe
) -> None:
    player = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(platform.url("notification")), player.token)
    try:
        award(platform, player.id, 800)
        earned = notification(ws)
        assert earned["type"] == "POINTS_EARNED"
        assert earned["content"]["points"] == 800
        wait_until(lambda: points_of(platform, player) == 800, timeout=WAIT)

        accepted = redeem(platform, player.token, 500, key="dinner-1")
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert body["status"] == "PENDING"
        confirmed = notification(ws)
        assert confirmed["type"] == "REDEMPTION_CONFIRMED"
        assert confirmed["content"]["redeemRequestId"] == body["redeemRequestId"]
        assert confirmed["content"]["balance"] == 300

        declined = redeem(platform, player.token, 500, key="dinner-2")
        assert declined.status_code == 202
        correlation = declined.headers["X-Correlation-ID"]
        rejected = notification(ws)
        assert rejected["type"] == "REDEMPTION_REJECTED"
        assert rejected["content"]["reason"] == "INSUFFICIENT_POINTS"
        assert rejected["content"]["balance"] == 300
    finally:
        ws.close()
    assert points_of(platform, player) == 300
    stored = redemption(platform, player.token, body["redeemRequestId"])
    assert stored["status"] == "CONFIRMED"
    assert stored["pointsBalance"] == 300
    # The retry of the first request is answered with it, and redeems nothing again.
    again = redeem(platform, player.token, 500, key="dinner-1")
    assert again.json() == body
    assert again.headers["Idempotent-Replayed"] == "true"
    records = outcomes.wait_for(lambda r: r["key"] == player.id, count=2)
    assert [r["value"]["eventType"] for r in records] == [
        "REDEMPTION_CONFIRMED",
        "REDEMPTION_REJECTED",
    ]
    assert points_of(platform, player) == 300
    # Support can tell the player why, from the worker's log, by the request's correlation id.
    worker_log = platform.cluster.process("redeem-worker").log_path
    assert worker_log is not None
    lines = [json.loads(line) for line in worker_log.read_text().splitlines() if line[:1] == "{"]
    [decided] = [
        line
        for line in lines
        if line["event"] == "redemption_decided" and line.get("correlation_id") == correlation
    ]
    assert (decided["status"], decided["reason"]) == ("REJECTED", "INSUFFICIENT_POINTS")
    assert decided["redeem_request_id"] == declined.json()["redeemRequestId"]


def test_a_reversal_takes_back_spent_points_and_the_player_is_told(
    platform: RunningPlatform,
) -> None:
    player = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(platform.url("notification")), player.token)
    try:
        award(platform, player.id, 100)
        assert notification(ws)["type"] == "POINTS_EARNED"
        # The wallet and the notification service consume the award independently.
        wait_until(lambda: points_of(platform, player) == 100, timeout=WAIT)
        assert redeem(platform, player.token, 100).status_code == 202
        assert notification(ws)["type"] == "REDEMPTION_CONFIRMED"
        award(platform, player.id, -100)
        reversed_ = notification(ws)
    finally:
        ws.close()
    assert reversed_["type"] == "POINTS_REVERSED"
    assert "below zero" in reversed_["message"]
    wait_until(lambda: points_of(platform, player) == -100, timeout=WAIT)


def test_a_partner_produces_a_redemption_straight_to_redeem_events(
    platform: RunningPlatform, outcomes: TopicProbe
) -> None:
    player = welcomed_player(platform, timeout=WAIT)
    award(platform, player.id, 1000)
    wait_until(lambda: points_of(platform, player) == 1000, timeout=WAIT)
    request_id = str(uuid.uuid4())
    event = IntegrationEvent(
        "REDEEM_REQUESTED",
        player.id,
        {
            "redeemRequestId": request_id,
            "points": 250,
            "rewardDescription": "Spa day",
            "merchant": {"partnerId": "hotel", "location": "Spa"},
            "requestedBy": "hotel",
        },
        correlation_id=f"hotel-{request_id}",
    )
    produce(platform.infra.kafka_bootstrap, "redeem-events", event.to_message(), player.id)
    [record] = outcomes.wait_for(lambda r: r["value"]["redeemRequestId"] == request_id)
    assert record["key"] == player.id
    assert record["value"]["eventType"] == "REDEMPTION_CONFIRMED"
    assert record["value"]["requestedBy"] == "hotel"
    assert record["value"]["correlationId"] == f"hotel-{request_id}"
    stored = redemption(platform, platform.client_token("hotel"), request_id)
    assert (stored["status"], stored["channel"], stored["pointsBalance"]) == (
        "CONFIRMED",
        "EVENT",
        750,
    )
    assert stored["merchant"]["location"] == "Spa"
    casino = requests.get(
        f"{platform.url('redeem')}/api/v1/redemptions/{request_id}",
        headers={"Authorization": f"Bearer {platform.client_token('casino')}"},
        timeout=10,
    )
    assert casino.status_code == 404


def test_callers_who_may_not_redeem_are_refused(platform: RunningPlatform) -> None:
    player = welcomed_player(platform, timeout=WAIT)
    other = welcomed_player(platform, timeout=WAIT)
    read_only = platform.client_token("hotel", scope="rewards.read")
    refused = redeem(platform, read_only, 10, playerId=player.id)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    for_someone_else = redeem(platform, other.token, 10, playerId=player.id)
    assert for_someone_else.status_code == 403
    no_key = requests.post(
        f"{platform.url('redeem')}/api/v1/redemptions",
        json={"points": 10, "rewardDescription": "x"},
        headers=player.headers,
        timeout=10,
    )
    assert no_key.status_code == 400
    assert no_key.json()["error"]["code"] == "REDEEM_IDEMPOTENCY_KEY_REQUIRED"
    listed = requests.get(
        f"{platform.url('redeem')}/api/v1/redemptions", headers=player.headers, timeout=10
    )
    assert listed.json()["total"] == 0


def test_a_bad_redeem_event_is_dead_lettered(platform: RunningPlatform) -> None:
    dlq = TopicProbe(platform.infra.kafka_bootstrap, "redeem-events.dlq")
    try:
        marker = str(uuid.uuid4())
        bad = IntegrationEvent(
            "REDEEM_REQUESTED",
            "player-x",
            {"redeemRequestId": marker, "points": -5, "rewardDescription": "Nothing"},
        ).to_message()
        produce(platform.infra.kafka_bootstrap, "redeem-events", bad, "player-x")
        [dead] = dlq.wait_for(lambda r: r["value"]["redeemRequestId"] == marker, timeout=WAIT)
    finally:
        dlq.close()
    assert dead["headers"]["dlq-reason"] == "schema_violation"
    assert dead["headers"]["dlq-consumer-group"] == "redeem-redemptions"
