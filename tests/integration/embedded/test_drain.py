"""Stopping the embedded platform: what the in-memory broker holds is consumed first."""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Consumer, Message, TopicPartition
from sqlalchemy import create_engine, text

from embedded.drain import unpublished_events, unread_records, wait_until_drained
from shared.messaging.kafka import ensure_topics
from tests.support.infra import Infra
from tests.support.kafka import produce


def member(infra: Infra, group: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": infra.kafka_bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 2000,
        }
    )
    consumer.subscribe([topic])
    return consumer


def consume(consumer: Consumer, count: int) -> list[Message]:
    messages: list[Message] = []
    while len(messages) < count:
        message = consumer.poll(10)
        assert message is not None, f"only {len(messages)} of {count} records arrived"
        if not message.error():
            messages.append(message)
    return messages


def test_records_an_active_group_has_not_committed_are_unread_until_it_does(infra: Infra):
    topic = f"drain-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [topic])
    for n in range(4):
        produce(infra.kafka_bootstrap, topic, {"n": n}, key="same-player")
    group = f"drain-{uuid.uuid4().hex[:8]}"
    # Before any group has committed on it, the broker does not list the group that will read
    # the topic: records on a topic the platform always reads count as unread anyway.
    assert unread_records(infra.kafka_bootstrap, groups=[], consumed_topics=[topic]) == 4
    assert unread_records(infra.kafka_bootstrap, groups=[]) == 0
    consumer = member(infra, group, topic)
    try:
        first = consume(consumer, 1)
        consumer.commit(message=first[0], asynchronous=False)
        assert unread_records(infra.kafka_bootstrap, groups=[group]) == 3
        assert unread_records(infra.kafka_bootstrap, groups=[group], consumed_topics=[topic]) == 3

        rest = consume(consumer, 3)
        last = rest[-1]
        finished = threading.Timer(1.0, lambda: consumer.commit(message=last, asynchronous=False))
        finished.start()
        left = wait_until_drained(
            infra.kafka_bootstrap, [], groups=[group], timeout=15, interval=0.2
        )
        finished.join()
        assert left.empty
        assert unread_records(infra.kafka_bootstrap, groups=[group]) == 0

        produce(infra.kafka_bootstrap, topic, {"n": 4}, key="same-player")
        assert unread_records(infra.kafka_bootstrap, groups=[group]) == 1
    finally:
        consumer.close()


def test_a_group_nobody_runs_has_nothing_to_wait_for(infra: Infra):
    """Offsets committed without members, as the dead-letter replay tool commits them."""
    topic = f"drain-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [topic])
    produce(infra.kafka_bootstrap, topic, {"n": 0}, key="same-player")
    produce(infra.kafka_bootstrap, topic, {"n": 1}, key="same-player")
    group = f"drain-{uuid.uuid4().hex[:8]}"
    committer = Consumer({"bootstrap.servers": infra.kafka_bootstrap, "group.id": group})
    try:
        committer.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
    finally:
        committer.close()
    assert unread_records(infra.kafka_bootstrap, groups=[group]) == 0


def test_outbox_rows_are_unpublished_until_the_relay_deletes_them(infra: Infra):
    url = infra.database("redeem")
    assert unpublished_events([url, infra.postgres_admin_url]) == 0  # no outbox: nothing
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO outbox (event_id, topic, message_key, payload, headers)"
                    " VALUES (:id, 'notifications', 'p-1', '{}', '{}')"
                ),
                {"id": str(uuid.uuid4())},
            )
        assert unpublished_events([url]) == 1
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM outbox"))
        assert unpublished_events([url]) == 0
    finally:
        engine.dispose()
