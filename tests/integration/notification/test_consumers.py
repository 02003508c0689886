"""The worker's consumers on the real broker: store once, push, dead-letter, account status."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from notification_service.adapters.mongo import NotificationDocument
from notification_service.adapters.redis_live import RedisLiveSubscriber
from notification_service.application.live import CloseCode, LiveMessage, LiveMessageKind
from notification_service.application.services import NotificationIngestion
from notification_service.application.sources import from_notification_event
from notification_service.container import Container
from notification_service.controllers.consumers import (
    NotificationEventsHandler,
    UserStatusHandler,
)
from notification_service.worker import consumer_runner
from shared.application.events import IntegrationEvent
from shared.messaging.consumer import ConsumerRunner
from shared.messaging.kafka import ensure_topics
from tests.support.infra import Infra
from tests.support.kafka import TopicProbe, produce

PROMOTION = {
    "promotionId": "p1",
    "playerPromotionId": "pp1",
    "title": "Welcome bonus",
    "type": "WELCOME_BONUS",
    "amount": "25.00",
    "startDate": "2025-01-01T00:00:00Z",
    "endDate": "2025-12-31T00:00:00Z",
    "source": "WELCOME",
}


def promotion(user_id: str, **changes: Any) -> dict[str, Any]:
    return IntegrationEvent(
        "PROMOTION", user_id, {"content": PROMOTION, "title": "A gift", **changes}
    ).to_message()


def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Running:
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner
        self.thread = threading.Thread(target=runner.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the consumer did not stop"


@pytest.fixture
def topic(infra: Infra) -> str:
    name = f"notifications-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [name, f"{name}.dlq"])
    return name


@pytest.fixture
def live(notification_container: Container) -> Iterator[list[LiveMessage]]:
    """What the worker publishes on the live channel, as a web process would hear it."""
    heard: list[LiveMessage] = []
    subscriber = RedisLiveSubscriber(
        notification_container.core.redis(),
        notification_container.config.live.channel(),
        heard.append,
        poll_seconds=0.1,
    )
    subscriber.start()
    assert subscriber.wait_subscribed(10)
    yield heard
    subscriber.stop()


@pytest.fixture
def notifications_consumer(notification_container: Container, topic: str) -> Iterator[Running]:
    ingestion = NotificationIngestion(
        notification_container.notifications(),
        notification_container.live_channel(),
        sources={topic: from_notification_event},
    )
    handler = NotificationEventsHandler(ingestion=ingestion)
    running = Running(
        consumer_runner(notification_container, f"g-{uuid.uuid4().hex}", [topic], handler)
    )
    yield running
    running.stop()


def stored_ids(user_id: str) -> list[str]:
    return [d.event_id for d in NotificationDocument.objects(user_id=user_id)]


def test_an_event_is_stored_once_and_pushed_once(
    infra: Infra, topic: str, live: list[LiveMessage], notifications_consumer: Running
) -> None:
    user = str(uuid.uuid4())
    event = promotion(user)
    marker = promotion(user, title="marker")
    shouted = {**event, "eventId": event["eventId"].upper()}  # the same event
    for record in (event, event, marker, shouted, event):
        produce(infra.kafka_bootstrap, topic, record, key=user)
    wait_until(lambda: len(stored_ids(user)) == 2)
    wait_until(lambda: len(live) >= 2)
    assert sorted(stored_ids(user)) == sorted([event["eventId"], marker["eventId"]])
    pushed = [m for m in live if m.user_id == user]
    assert [m.kind for m in pushed] == [LiveMessageKind.NOTIFICATION] * 2
    assert [m.notification["title"] for m in pushed if m.notification] == ["A gift", "marker"]
    document = NotificationDocument.objects(event_id=event["eventId"]).first()
    assert (document.type, document.read, document.content) == ("PROMOTION", False, PROMOTION)


def test_every_notification_type_with_a_schema_is_stored_under_its_own_type(
    infra: Infra, topic: str, notifications_consumer: Running
) -> None:
    user = str(uuid.uuid4())
    credited = {
        "promotionId": "p1",
        "playerPromotionId": "pp1",
        "amount": "25.00",
        "currency": "BONUS",
        "balance": "125.00",
    }
    event = IntegrationEvent(
        "BONUS_CREDITED", user, {"content": credited, "message": "25.00 credited"}
    ).to_message()
    produce(infra.kafka_bootstrap, topic, event, key=user)
    wait_until(lambda: stored_ids(user) == [event["eventId"]])
    document = NotificationDocument.objects(event_id=event["eventId"]).first()
    assert (document.type, document.content, document.message, document.title) == (
        "BONUS_CREDITED",
        credited,
        "25.00 credited",
        None,
    )


def test_invalid_events_are_dead_lettered_and_the_consumer_keeps_going(
    infra: Infra, topic: str, notifications_consumer: Running
) -> None:
    user = str(uuid.uuid4())
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    try:
        no_content = promotion(user)
        del no_content["content"]
        not_a_notification = IntegrationEvent(
            "USER_STATUS_CHANGED", user, {"status": "ACTIVE", "role": "player"}
        ).to_message()
        after = promotion(user)
        for record in (b"{not json", no_content, not_a_notification, after):
            produce(infra.kafka_bootstrap, topic, record, key=user)
        wait_until(lambda: stored_ids(user) == [after["eventId"]])
        dead = dlq.wait_for(lambda r: True, count=3)
    finally:
        dlq.close()
    reasons = sorted(r["headers"]["dlq-reason"] for r in dead)
    assert reasons == ["invalid_json", "invalid_notification", "schema_violation"]


def test_account_status_changes_refuse_the_user_and_close_their_sockets(
    infra: Infra, notification_container: Container, topic: str, live: list[LiveMessage]
) -> None:
    user = str(uuid.uuid4())
    inactive_users = notification_container.core.inactive_users()
    running = Running(
        consumer_runner(
            notification_container, f"g-{uuid.uuid4().hex}", [topic], UserStatusHandler()
        )
    )
    try:
        deactivated = IntegrationEvent(
            "USER_STATUS_CHANGED", user, {"status": "INACTIVE", "role": "player"}
        )
        produce(infra.kafka_bootstrap, topic, deactivated.to_message(), key=user)
        wait_until(lambda: inactive_users.is_inactive(user))
        wait_until(lambda: any(m.user_id == user for m in live))
        [closing] = [m for m in live if m.user_id == user]
        assert (closing.kind, closing.close_code) == (LiveMessageKind.CLOSE, CloseCode.FORBIDDEN)

        reactivated = IntegrationEvent(
            "USER_STATUS_CHANGED", user, {"status": "ACTIVE", "role": "player"}
        )
        produce(infra.kafka_bootstrap, topic, reactivated.to_message(), key=user)
        wait_until(lambda: not inactive_users.is_inactive(user))
    finally:
        running.stop()


@pytest.mark.parametrize("first", ["real", "reusing"])
def test_an_event_id_reused_for_another_player_is_dead_lettered_not_lost(
    infra: Infra, topic: str, notifications_consumer: Running, first: str
) -> None:
    real_user, other_user = str(uuid.uuid4()), str(uuid.uuid4())
    real = promotion(real_user)
    reusing = {**promotion(other_user), "eventId": real["eventId"]}
    records = [real, reusing] if first == "real" else [reusing, real]
    after = promotion(real_user, title="after")
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    try:
        # One key, so one partition and this order (the consumer may take them in one batch).
        for record in (*records, records[0], after):
            produce(infra.kafka_bootstrap, topic, record, key=real_user)
        wait_until(lambda: after["eventId"] in stored_ids(real_user))
        [dead] = dlq.wait_for(lambda r: True, count=1)
    finally:
        dlq.close()
    assert dead["headers"]["dlq-reason"] == "event_id_conflict"
    assert dead["value"]["user_id"] == records[1]["user_id"]
    stored = NotificationDocument.objects(event_id=real["eventId"])
    assert [d.user_id for d in stored] == [records[0]["user_id"]]
