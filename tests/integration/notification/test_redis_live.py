"""Live messages through real Redis pub/sub: published by one side, dispatched by the other."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis

from embedded.services import redis_url_for
from notification_service.adapters.redis_live import (
    RedisLiveChannel,
    RedisLiveSubscriber,
    encode,
)
from notification_service.application.live import CloseCode, LiveMessage, LiveMessageKind
from notification_service.container import Container
from shared.domain.exceptions import DependencyUnavailable
from shared.redis_client import create_redis, database_channel
from tests.integration.notification.conftest import REDIS_DB
from tests.support.infra import Infra


class Collected:
    def __init__(self) -> None:
        self.messages: list[LiveMessage] = []
        self._arrived = threading.Condition()

    def __call__(self, message: LiveMessage) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[LiveMessage]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
                self._arrived.wait(remaining)
            return list(self.messages)


@pytest.fixture
def channel_name() -> str:
    return f"notifications:live:test-{time.monotonic_ns()}"


@pytest.fixture
def subscriber(
    notification_container: Container, channel_name: str
) -> Iterator[tuple[RedisLiveSubscriber, Collected]]:
    collected = Collected()
    subscriber = RedisLiveSubscriber(
        notification_container.core.redis(), channel_name, collected, poll_seconds=0.1
    )
    subscriber.start()
    assert subscriber.wait_subscribed(10)
    yield subscriber, collected
    subscriber.stop()


def test_published_messages_reach_the_subscriber_in_order(
    notification_container: Container,
    channel_name: str,
    subscriber: tuple[RedisLiveSubscriber, Collected],
) -> None:
    _, collected = subscriber
    channel = RedisLiveChannel(notification_container.core.redis(), channel_name)
    notification = {
        "id": "n1",
        "type": "PROMOTION",
        "content": {"a": 1},
        "read": False,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "title": "A gift",
    }
    channel.publish(
        [
            LiveMessage(LiveMessageKind.NOTIFICATION, "u1", notification=notification),
            LiveMessage.close_sessions("u1", CloseCode.FORBIDDEN, "inactive"),
        ]
    )
    first, second = collected.wait_for(2)
    assert (first.kind, first.user_id, first.notification) == (
        LiveMessageKind.NOTIFICATION,
        "u1",
        notification,
    )
    assert (second.kind, second.close_code, second.reason) == (
        LiveMessageKind.CLOSE,
        CloseCode.FORBIDDEN,
        "inactive",
    )


def test_a_malformed_message_is_skipped_and_the_subscription_goes_on(
    notification_container: Container,
    channel_name: str,
    subscriber: tuple[RedisLiveSubscriber, Collected],
) -> None:
    sub, collected = subscriber
    redis = notification_container.core.redis()
    channel = database_channel(redis, channel_name)
    good = {"id": "n1", "type": "X", "content": {}, "read": False, "createdAt": "2026-01-01"}
    for malformed in (
        "{not json",
        "[1]",
        "[" * 100_000,
        {"kind": "teleport", "userId": "u1"},
        {"kind": "notification", "userId": 7, "notification": good},
        {"kind": "notification", "userId": "", "notification": good},
        {"kind": "notification", "userId": "u1", "notification": "text"},
        {"kind": "notification", "userId": "u1", "notification": {"id": "n1"}},
        {"kind": "notification", "userId": "u1", "notification": {**good, "read": "no"}},
        {"kind": "notification", "userId": "u1", "notification": {**good, "title": 1}},
        {"kind": "notification", "userId": "u1", "notification": {**good, "script": "<x>"}},
        {"kind": "notification", "userId": "u1", "notification": good, "extra": 1},
        {"kind": "close", "userId": "u1", "closeCode": 1000, "reason": "x"},
        {"kind": "close", "userId": "u1", "closeCode": "4403", "reason": "x"},
        {"kind": "close", "userId": "u1", "closeCode": True, "reason": "x"},
        {"kind": "close", "userId": "u1", "closeCode": 4403, "reason": "x" * 124},
        {"kind": "close", "userId": "u1", "closeCode": 4403, "reason": "x", "issuedBefore": "1"},
    ):
        redis.publish(channel, malformed if isinstance(malformed, str) else json.dumps(malformed))
    RedisLiveChannel(redis, channel_name).publish(
        [LiveMessage.close_sessions("u2", CloseCode.FORBIDDEN, "x")]
    )
    [only] = collected.wait_for(1)
    assert only.user_id == "u2"
    sub.check()


def test_the_channel_is_the_databases_own(
    infra: Infra,
    notification_container: Container,
    channel_name: str,
    subscriber: tuple[RedisLiveSubscriber, Collected],
) -> None:
    _, collected = subscriber
    redis = notification_container.core.redis()
    assert database_channel(redis, channel_name) == f"{channel_name}:{REDIS_DB}"
    close = [LiveMessage.close_sessions("from-db-0", CloseCode.FORBIDDEN, "x")]
    # Pub/sub spans the server: another database's client, by the bare name or through the
    # adapter (its own database's channel), reaches no subscriber of this database.
    other_database = create_redis(redis_url_for(infra.redis_url, 0))
    try:
        RedisLiveChannel(other_database, channel_name).publish(close)
        other_database.publish(channel_name, encode(close[0]))
        redis.publish(channel_name, encode(close[0]))
    finally:
        other_database.close()
    RedisLiveChannel(redis, channel_name).publish(
        [LiveMessage.close_sessions("same-db", CloseCode.FORBIDDEN, "x")]
    )
    [only] = collected.wait_for(1)
    assert only.user_id == "same-db"
    time.sleep(0.2)
    assert len(collected.messages) == 1


def test_an_unreachable_redis_is_reported_as_a_port_error() -> None:
    dead = create_redis("redis://127.0.0.1:1/0", timeout=0.2)
    channel = RedisLiveChannel(dead, "x")
    with pytest.raises(DependencyUnavailable):
        channel.publish([LiveMessage.close_sessions("u", CloseCode.FORBIDDEN, "x")])


def test_the_subscriber_is_not_ready_while_redis_is_unreachable() -> None:
    subscriber = RedisLiveSubscriber(Redis.from_url("redis://127.0.0.1:1/0"), "x", print)
    subscriber.start()
    try:
        assert not subscriber.wait_subscribed(0.5)
        with pytest.raises(ConnectionError):
            subscriber.check()
    finally:
        subscriber.stop()


def test_many_concurrent_callers_wait_for_a_connection_instead_of_failing(
    notification_container: Container,
) -> None:
    """Three times more callers than pooled connections, each holding one for 200 ms."""
    redis = notification_container.core.redis()
    callers = 3 * notification_container.config.redis.max_connections()
    errors: list[BaseException] = []

    def hold_a_connection() -> None:
        try:
            redis.blpop(["notification-test:never"], timeout=0.2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hold_a_connection) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    # The inactive-user list shares this client (the resource server's check).
    assert notification_container.core.inactive_users().is_inactive("nobody") is False
