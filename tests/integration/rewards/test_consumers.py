"""The rewards consumers against PostgreSQL, Redis and the Kafka broker: welcome promotions on
registration (once, whatever the redeliveries), dead letters, and account status changes."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from rewards_service.container import Container
from rewards_service.controllers.consumers import PlayerRegistrations
from shared.application.events import IntegrationEvent
from shared.messaging.account_status import AccountStatusChanges
from shared.messaging.consumer import InboundEvent, RejectEvent
from shared.messaging.kafka import ensure_topics
from tests.integration.rewards.conftest import ApiClient, Tokens, create_promotion, outbox_messages
from tests.support.infra import Infra
from tests.support.kafka import RunningConsumer, TopicProbe, produce


def registered(player_id: str | None = None, event_id: str | None = None) -> IntegrationEvent:
    return IntegrationEvent(
        event_type="PLAYER_REGISTERED",
        user_id=player_id or str(uuid.uuid4()),
        data={"email": "new.player@example.com", "registeredAt": "2026-01-01T10:00:00Z"},
        event_id=event_id or str(uuid.uuid4()),
    )


def inbound(event: IntegrationEvent, offset: int = 0) -> InboundEvent:
    message = event.to_message()
    return InboundEvent(
        event=event, topic="players", partition=0, offset=offset, key=event.user_id, raw=message
    )


def counts(container: Container) -> dict[str, int]:
    with container.core.database().connect() as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
            for table in ("players", "player_promotions", "outbox", "processed_events")
        }


@pytest.fixture
def welcome(client: ApiClient, staff: dict[str, str]) -> Any:
    return create_promotion(
        client, staff, type="WELCOME_BONUS", title="Welcome Bonus", amount="25.00"
    )


def test_a_registration_gets_the_running_welcome_promotion_once(
    rewards_container: Container, welcome: dict[str, Any]
) -> None:
    handler = PlayerRegistrations(rewards_container.welcome_service())
    event = registered()

    handler.handle([inbound(event)])
    assert counts(rewards_container) == {
        "players": 1,
        "player_promotions": 1,
        "outbox": 1,
        "processed_events": 1,
    }
    (message,) = outbox_messages(rewards_container)
    assert message["topic"] == "notifications"
    assert message["eventType"] == "PROMOTION"
    assert message["user_id"] == event.user_id
    assert message["content"]["promotionId"] == welcome["id"]
    assert message["content"]["source"] == "WELCOME"
    assert message["content"]["amount"] == "25.00"

    # The same event redelivered, alone or inside a batch: nothing new.
    handler.handle([inbound(event)])
    handler.handle([inbound(event), inbound(event, offset=1)])
    assert counts(rewards_container)["player_promotions"] == 1
    assert counts(rewards_container)["outbox"] == 1
    # A different event for the same player (a republished registration): still once.
    handler.handle([inbound(registered(player_id=event.user_id))])
    assert counts(rewards_container)["player_promotions"] == 1
    assert counts(rewards_container)["outbox"] == 1


def test_a_batch_of_registrations_is_welcomed_in_one_go(
    rewards_container: Container, welcome: dict[str, Any]
) -> None:
    handler = PlayerRegistrations(rewards_container.welcome_service())
    events = [registered() for _ in range(25)]
    handler.handle([inbound(e, offset=i) for i, e in enumerate(events)])
    assert counts(rewards_container)["player_promotions"] == 25
    assert sorted(m["user_id"] for m in outbox_messages(rewards_container)) == sorted(
        e.user_id for e in events
    )


def test_without_a_running_welcome_promotion_the_player_is_only_recorded(
    rewards_container: Container, client: ApiClient, staff: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    create_promotion(
        client,
        staff,
        type="WELCOME_BONUS",
        startDate=(now + timedelta(days=1)).isoformat(),
        endDate=(now + timedelta(days=2)).isoformat(),
    )
    create_promotion(client, staff, type="WELCOME_BONUS", isActive=False)
    handler = PlayerRegistrations(rewards_container.welcome_service())
    handler.handle([inbound(registered())])
    assert counts(rewards_container) == {
        "players": 1,
        "player_promotions": 0,
        "outbox": 0,
        "processed_events": 1,
    }


def test_a_registration_without_a_uuid_is_rejected(rewards_container: Container) -> None:
    handler = PlayerRegistrations(rewards_container.welcome_service())
    with pytest.raises(RejectEvent) as rejected:
        handler.handle([inbound(registered(player_id="not-a-uuid"))])
    assert rejected.value.reason == "invalid_player_id"
    assert counts(rewards_container)["players"] == 0


def test_a_staff_assignment_after_registration_reaches_the_new_player(
    rewards_container: Container, client: ApiClient, staff: dict[str, str]
) -> None:
    event = registered()
    PlayerRegistrations(rewards_container.welcome_service()).handle([inbound(event)])
    promotion = create_promotion(client, staff)
    response = client.post(
        f"/api/v1/promotions/{promotion['id']}/assign",
        json={"playerIds": [event.user_id]},
        headers=staff,
    )
    assert response.json["assigned"] == [event.user_id]


class Running(RunningConsumer):
    """A consumer runner in a thread, as the worker runs it."""

    def __init__(self, infra: Infra, topic: str, handler: Any) -> None:
        group = f"rewards-test-{uuid.uuid4().hex[:8]}"
        super().__init__(
            infra.kafka_settings, topic, handler, group, retry_backoff=0.01, poll_timeout=0.1
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def topic(infra: Infra) -> str:
    name = f"players-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [name, f"{name}.dlq"])
    return name


def test_invalid_registrations_are_dead_lettered_and_the_consumer_keeps_going(
    infra: Infra, topic: str, rewards_container: Container, welcome: dict[str, Any]
) -> None:
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    good_before, good_after = registered(), registered()
    bad_id = registered(player_id="not-a-uuid")
    no_date = {**registered().to_message(), "registeredAt": "yesterday"}
    no_email = registered().to_message()
    del no_email["email"]
    records = [good_before.to_message(), bad_id.to_message(), no_date, no_email]
    for record in [*records, good_after.to_message()]:
        produce(infra.kafka_bootstrap, topic, record, key="same-partition")
    running = Running(infra, topic, PlayerRegistrations(rewards_container.welcome_service()))
    try:
        wait_until(lambda: counts(rewards_container)["player_promotions"] == 2)
        dead = dlq.wait_for(lambda r: True, count=3)
    finally:
        running.stop()
        dlq.close()
    # The schema checks the date-time format, so "yesterday" is a schema violation.
    assert sorted(r["headers"]["dlq-reason"] for r in dead) == [
        "invalid_player_id",
        "schema_violation",
        "schema_violation",
    ]
    holders = {m["user_id"] for m in outbox_messages(rewards_container)}
    assert holders == {good_before.user_id, good_after.user_id}


def test_a_deactivated_user_is_refused_until_reactivated(
    rewards_container: Container, client: ApiClient, tokens: Tokens
) -> None:
    player = str(uuid.uuid4())
    headers = tokens.headers(player, "player")
    url = f"/api/v1/promotions/players/{player}"
    assert client.get(url, headers=headers).status_code == 200

    handler = AccountStatusChanges(rewards_container.core.inactive_users())

    def status_changed(status: str) -> InboundEvent:
        return inbound(
            IntegrationEvent(
                event_type="USER_STATUS_CHANGED",
                user_id=player,
                data={"status": status, "role": "player", "changedBy": str(uuid.uuid4())},
            )
        )

    handler.handle([status_changed("INACTIVE")])
    refused = client.get(url, headers=headers)
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "ACCOUNT_INACTIVE"
    handler.handle([status_changed("ACTIVE")])
    assert client.get(url, headers=headers).status_code == 200
