"""Promotions end to end: auth, rewards (web and worker) and the broker as real processes.

Registration → welcome promotion (once, however often the event is delivered) → PROMOTION
notification; staff assignments; the dead-letter topic; access rules; deactivated players;
the OpenAPI document."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, bearer, wait_until
from tests.support.kafka import TopicProbe, produce

PLAYERS_GROUP = "rewards-players"


class Rewards:
    def __init__(self, platform: RunningPlatform) -> None:
        self.url = f"{platform.url('rewards')}/api/v1/promotions"
        self.staff = bearer(platform.admin_token())
        self.created: list[str] = []

    def create(self, **overrides: Any) -> Any:
        now = datetime.now(UTC)
        body = {
            "title": f"E2E bonus {uuid.uuid4().hex[:6]}",
            "type": "BONUS",
            "amount": "15.00",
            "startDate": (now - timedelta(hours=1)).isoformat(),
            "endDate": (now + timedelta(days=3)).isoformat(),
            **overrides,
        }
        response = requests.post(self.url, json=body, headers=self.staff, timeout=10)
        assert response.status_code == 201, response.text
        self.created.append(response.json()["id"])
        return response.json()

    def assign(self, promotion_id: str, player_ids: list[str]) -> requests.Response:
        return requests.post(
            f"{self.url}/{promotion_id}/assign",
            json={"playerIds": player_ids},
            headers=self.staff,
            timeout=10,
        )

    def player_promotions(self, player: Player, headers: dict[str, str] | None = None) -> Any:
        response = requests.get(
            f"{self.url}/players/{player.id}", headers=headers or player.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def welcomed(self, player: Player) -> Any:
        """Wait until the players consumer has given ``player`` the welcome promotion."""

        def found() -> Any:
            items = self.player_promotions(player)["items"]
            return [i for i in items if i["source"] == "WELCOME"]

        return wait_until(found)

    def cleanup(self) -> None:
        for promotion_id in self.created:
            requests.patch(
                f"{self.url}/{promotion_id}",
                json={"isActive": False},
                headers=self.staff,
                timeout=10,
            )


@pytest.fixture
def rewards(platform: RunningPlatform) -> Iterator[Rewards]:
    client = Rewards(platform)
    yield client
    client.cleanup()


@pytest.fixture
def notifications(platform: RunningPlatform) -> Iterator[TopicProbe]:
    probe = TopicProbe(platform.infra.kafka_bootstrap, "notifications")
    yield probe
    probe.close()


def notice(player_id: str, source: str) -> Callable[[dict[str, Any]], bool]:
    """Matches a PROMOTION notification of ``player_id`` from ``source``."""

    def matches(record: dict[str, Any]) -> bool:
        value = record["value"]
        return (
            isinstance(value, dict)
            and value.get("eventType") == "PROMOTION"
            and value.get("user_id") == player_id
            and value["content"].get("source") == source
        )

    return matches


def test_a_new_player_gets_the_seeded_welcome_promotion_and_a_notification(
    platform: RunningPlatform, rewards: Rewards, notifications: TopicProbe
) -> None:
    seeded = platform.credentials["welcomePromotion"]
    player = Player(platform.url("auth"))

    (welcome,) = rewards.welcomed(player)
    assert welcome["promotion"]["id"] == seeded["id"]
    assert welcome["promotion"]["type"] == "WELCOME_BONUS"
    assert welcome["promotion"]["amount"] == "25.00"
    assert welcome["status"] == "ASSIGNED"
    assert welcome["playerId"] == player.id

    (sent,) = notifications.wait_for(notice(player.id, "WELCOME"))
    assert sent["key"] == player.id
    assert sent["value"]["content"]["playerPromotionId"] == welcome["id"]
    assert sent["value"]["content"]["amount"] == "25.00"


def _committed_offset(bootstrap: str, partition: int) -> int:
    # A consumer that never subscribes only reads the group's committed offsets.
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": PLAYERS_GROUP})
    try:
        (position,) = reader.committed([TopicPartition("players", partition)], timeout=5)
        return int(position.offset)
    finally:
        reader.close()


def _produce_with_position(bootstrap: str, key: str, value: bytes) -> tuple[int, int]:
    delivered: list[Any] = []
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(
        "players", key=key.encode(), value=value, on_delivery=lambda _e, m: delivered.append(m)
    )
    assert producer.flush(10) == 0
    (message,) = delivered
    assert message.error() is None
    return int(message.partition()), int(message.offset())


def test_a_redelivered_registration_creates_nothing_new(
    platform: RunningPlatform, rewards: Rewards, notifications: TopicProbe
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    players_topic = TopicProbe(bootstrap, "players")
    try:
        player = Player(platform.url("auth"))
        (original,) = players_topic.wait_for(
            lambda r: isinstance(r["value"], dict) and r["value"].get("user_id") == player.id
        )
    finally:
        players_topic.close()
    rewards.welcomed(player)

    # The very same record again, on the same partition (same key).
    partition, offset = _produce_with_position(
        bootstrap, player.id, json.dumps(original["value"]).encode()
    )
    wait_until(lambda: _committed_offset(bootstrap, partition) > offset)

    # A later notice for the same player travels the same outbox and partition: once it has
    # arrived, any duplicate welcome notice would have arrived before it.
    bonus = rewards.create()
    assert rewards.assign(bonus["id"], [player.id]).status_code == 200
    notifications.wait_for(notice(player.id, "STAFF"))
    assert len(notifications.matching(notice(player.id, "WELCOME"))) == 1
    sources = sorted(i["source"] for i in rewards.player_promotions(player)["items"])
    assert sources == ["STAFF", "WELCOME"]
    engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["rewards"]))
    try:
        with engine.connect() as connection:
            held = connection.execute(
                text("SELECT count(*) FROM player_promotions WHERE player_id = :p"),
                {"p": player.id},
            ).scalar_one()
    finally:
        engine.dispose()
    assert held == 2


def test_invalid_registration_events_are_dead_lettered_and_the_consumer_keeps_going(
    platform: RunningPlatform, rewards: Rewards
) -> None:
    bootstrap = platform.infra.kafka_bootstrap
    dead_letters = TopicProbe(bootstrap, "players.dlq")
    try:
        bad_event_id = str(uuid.uuid4())
        not_a_uuid = {
            "eventId": bad_event_id,
            "eventType": "PLAYER_REGISTERED",
            "version": 1,
            "occurredAt": "2026-01-01T00:00:00Z",
            "correlationId": None,
            "user_id": "not-a-uuid",
            "email": "ghost@example.com",
            "registeredAt": "2026-01-01T00:00:00Z",
        }
        produce(bootstrap, "players", not_a_uuid, key="not-a-uuid")
        marker = f"{{not json {uuid.uuid4().hex}".encode()
        produce(bootstrap, "players", marker, key="not-a-uuid")

        def ours(record: dict[str, Any]) -> bool:
            mine = record["headers"].get("dlq-consumer-group") == PLAYERS_GROUP
            value = record["value"]
            return mine and (
                (isinstance(value, dict) and value.get("eventId") == bad_event_id)
                or value == marker
            )

        dead = dead_letters.wait_for(ours, count=2)
    finally:
        dead_letters.close()
    assert sorted(r["headers"]["dlq-reason"] for r in dead) == ["invalid_json", "invalid_player_id"]

    # The consumer is still at work: the next registration is welcomed.
    assert rewards.welcomed(Player(platform.url("auth")))


def test_staff_assign_a_promotion_and_each_new_holder_is_notified_once(
    platform: RunningPlatform, rewards: Rewards, notifications: TopicProbe
) -> None:
    first, second = Player(platform.url("auth")), Player(platform.url("auth"))
    rewards.welcomed(first)
    rewards.welcomed(second)
    promotion = rewards.create(type="FREE_SPINS", title="Slots night", amount="12.50")

    response = rewards.assign(promotion["id"], [first.id, second.id])
    assert response.status_code == 200, response.text
    assert sorted(response.json()["assigned"]) == sorted([first.id, second.id])
    again = rewards.assign(promotion["id"], [first.id])
    assert again.json() == {
        "promotionId": promotion["id"],
        "assigned": [],
        "alreadyAssigned": [first.id],
    }
    for player in (first, second):
        notifications.wait_for(notice(player.id, "STAFF"))
        held = {i["promotion"]["id"]: i for i in rewards.player_promotions(player)["items"]}
        assert held[promotion["id"]]["promotion"]["amount"] == "12.50"
        assert held[promotion["id"]]["status"] == "ASSIGNED"


def test_assignments_and_promotions_that_break_the_rules_are_refused(
    platform: RunningPlatform, rewards: Rewards
) -> None:
    player = Player(platform.url("auth"))
    rewards.welcomed(player)
    now = datetime.now(UTC)
    inactive = rewards.create(isActive=False)
    expired = rewards.create(
        startDate=(now - timedelta(days=5)).isoformat(),
        endDate=(now - timedelta(days=1)).isoformat(),
    )
    for promotion in (inactive, expired):
        refused = rewards.assign(promotion["id"], [player.id])
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "REWARDS_PROMOTION_NOT_ASSIGNABLE"

    running = rewards.create()
    stranger = str(uuid.uuid4())
    unknown = rewards.assign(running["id"], [player.id, stranger])
    assert unknown.status_code == 422
    assert unknown.json()["error"]["code"] == "REWARDS_UNKNOWN_PLAYERS"
    assert unknown.json()["error"]["details"] == {"unknownPlayerIds": [stranger]}

    # The seeded welcome promotion runs for a year: a second one over the same period is refused.
    overlapping = requests.post(
        rewards.url,
        json={
            "title": "Another welcome",
            "type": "WELCOME_BONUS",
            "amount": "50.00",
            "startDate": (now + timedelta(days=1)).isoformat(),
            "endDate": (now + timedelta(days=2)).isoformat(),
        },
        headers=rewards.staff,
        timeout=10,
    )
    assert overlapping.status_code == 409
    assert overlapping.json()["error"]["code"] == "REWARDS_PROMOTION_OVERLAP"
    assert overlapping.json()["error"]["correlationId"]


def test_a_player_reads_only_their_own_promotions(
    platform: RunningPlatform, rewards: Rewards
) -> None:
    me, other = Player(platform.url("auth")), Player(platform.url("auth"))
    rewards.welcomed(me)
    forbidden = requests.get(f"{rewards.url}/players/{other.id}", headers=me.headers, timeout=10)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "FORBIDDEN"
    assert rewards.player_promotions(me, headers=rewards.staff)["total"] == 1
    assert requests.get(rewards.url, headers=me.headers, timeout=10).status_code == 403


def test_a_deactivated_player_is_refused_by_rewards_within_seconds(
    platform: RunningPlatform, rewards: Rewards
) -> None:
    player = Player(platform.url("auth"))
    rewards.welcomed(player)
    users = f"{platform.url('auth')}/api/v1/auth/users/{player.id}"
    mine = f"{rewards.url}/players/{player.id}"

    def refused() -> Any:
        response = requests.get(mine, headers=player.headers, timeout=10)
        return response.json() if response.status_code == 401 else None

    assert requests.post(f"{users}/deactivate", headers=rewards.staff, timeout=10).ok
    try:
        assert wait_until(refused)["error"]["code"] == "ACCOUNT_INACTIVE"
    finally:
        assert requests.post(f"{users}/reactivate", headers=rewards.staff, timeout=10).ok
    wait_until(lambda: requests.get(mine, headers=player.headers, timeout=10).status_code == 200)


ROUTES = {
    ("get", "/api/v1/promotions"): ("200", [401, 403, 422]),
    ("post", "/api/v1/promotions"): ("201", [401, 403, 409, 422]),
    ("get", "/api/v1/promotions/{promotion_id}"): ("200", [401, 403, 404]),
    ("patch", "/api/v1/promotions/{promotion_id}"): ("200", [401, 403, 404, 409, 422]),
    ("post", "/api/v1/promotions/{promotion_id}/assign"): ("200", [401, 403, 404, 409, 422]),
    ("get", "/api/v1/promotions/players/{player_id}"): ("200", [401, 403, 422]),
}


def test_swagger_ui_lists_every_route_with_its_schemas_and_errors(
    platform: RunningPlatform,
) -> None:
    base = platform.url("rewards")
    spec = requests.get(f"{base}/rewards/openapi.json", timeout=10).json()
    for (method, path), (success, failures) in ROUTES.items():
        operation = spec["paths"][path][method]
        assert operation["summary"], (method, path)
        assert operation["security"] == [{"bearerAuth": []}]
        assert "schema" in operation["responses"][success]["content"]["application/json"]
        for status in failures:
            content = operation["responses"][str(status)]["content"]["application/json"]
            assert content["schema"]["$ref"].endswith("/ErrorEnvelope"), (method, path, status)
        if method != "get":
            assert "requestBody" in operation, (method, path)
    money = spec["components"]["schemas"]["Promotion"]["properties"]["amount"]
    assert money["type"] == "string"
    ui = requests.get(f"{base}/rewards/api-docs", timeout=10)
    assert ui.status_code == 200
    assert "swagger" in ui.text.lower()
