"""The consumer runner against the real broker: processing, dead letters, commits, shutdown."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from confluent_kafka import Producer
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from shared.application.events import IntegrationEvent
from shared.messaging.consumer import (
    MAX_DEAD_LETTER_VALUE_BYTES,
    EventHandler,
    InboundEvent,
    Rejected,
    RejectEvent,
)
from shared.messaging.kafka import ensure_topics
from tests.support.infra import Infra
from tests.support.kafka import RunningConsumer, TopicProbe, produce


class RecordingHandler(EventHandler):
    event_types = frozenset({"PLAYER_REGISTERED"})

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.reject: set[str] = set()
        self.fail_once: set[str] = set()
        self.always_fail: set[str] = set()
        self.calls = 0

    def handle(self, events: Sequence[InboundEvent]) -> None:
        self.calls += 1
        for inbound in events:
            email = inbound.event.data["email"]
            if email in self.reject:
                raise RejectEvent("unknown_player", f"no such player for {email}")
            if email in self.always_fail:
                raise ValueError("handler bug")
            if email in self.fail_once:
                self.fail_once.discard(email)
                raise OperationalError("SELECT 1", {}, Exception("database is down"))
        self.seen.extend(i.event.data["email"] for i in events)


def registered(email: str) -> dict[str, Any]:
    return IntegrationEvent(
        "PLAYER_REGISTERED",
        str(uuid.uuid4()),
        {"email": email, "registeredAt": "2025-01-01T00:00:00Z"},
    ).to_message()


class Running(RunningConsumer):
    def __init__(self, infra: Infra, topic: str, group: str, handler: EventHandler) -> None:
        kafka = {"bootstrap_servers": infra.kafka_bootstrap}
        super().__init__(kafka, topic, handler, group, retry_backoff=0.01, poll_timeout=0.1)


def wait_until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def topic(infra: Infra) -> str:
    name = f"runner-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [name, f"{name}.dlq"])
    return name


def test_bad_records_go_to_the_dead_letter_topic_and_the_partition_keeps_moving(
    infra: Infra, topic: str
) -> None:
    handler = RecordingHandler()
    handler.reject.add("ghost@example.com")
    handler.always_fail.add("bug@example.com")
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    records: list[bytes | dict[str, Any]] = [
        registered("a@example.com"),
        b"{not json",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser follows
        {"eventType": "PLAYER_REGISTERED"},
        # Valid JSON and schema, but PostgreSQL could never store the NUL.
        {**registered("nul@example.com"), "firstName": "Ann\u0000"},
        registered("ghost@example.com"),
        registered("bug@example.com"),
        # UTF-16: JSON between systems is UTF-8, and this one hides a NUL from the byte checks.
        json.dumps({**registered("utf16@example.com"), "firstName": "Ann\u0000"}).encode("utf-16"),
        # One name twice: parsers disagree on which value counts, so neither is taken.
        b'{"email": "dup@example.com", ' + json.dumps(registered("twice@example.com"))[1:].encode(),
        # A date-time the schema accepts that has no UTC time.
        {**registered("early@example.com"), "occurredAt": "0001-01-01T00:00:00+01:00"},
        registered("b@example.com"),
    ]
    for record in records:
        produce(infra.kafka_bootstrap, topic, record, key="same-player")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        wait_until(lambda: handler.seen == ["a@example.com", "b@example.com"])
        dead = dlq.wait_for(lambda r: True, count=9)
    finally:
        running.stop()
        dlq.close()
    reasons = sorted(r["headers"]["dlq-reason"] for r in dead)
    assert reasons == [
        "invalid_json",
        "invalid_json",
        "invalid_json",
        "invalid_json",
        "processing_failed",
        "schema_violation",
        "schema_violation",
        "schema_violation",
        "unknown_player",
    ]
    assert any("out of range" in r["headers"]["dlq-error"] for r in dead)
    for record in dead:
        assert record["headers"]["dlq-original-topic"] == topic
        assert record["headers"]["dlq-error"]
        assert record["key"] == "same-player"
    assert any('"email" appears twice' in r["headers"]["dlq-error"] for r in dead)
    # The original bytes are kept, so the record can be replayed after a fix.
    assert b"{not json" in [r["value"] for r in dead]


def test_a_record_too_large_to_dead_letter_whole_is_cut_and_the_partition_keeps_moving(
    infra: Infra, topic: str
) -> None:
    # Producers with a higher limit than ours can publish a record our dead-letter producer
    # could not send back whole; refused, it would stop the partition at every restart.
    huge = b'{"eventType": "' + b"x" * 1_500_000 + b'"}'
    big = Producer({"bootstrap.servers": infra.kafka_bootstrap, "message.max.bytes": 5_000_000})
    big.produce(topic, key=b"same-player", value=huge)
    assert big.flush(10) == 0
    # Half of a surrogate pair: valid JSON, but never encodable as UTF-8.
    produce(
        infra.kafka_bootstrap,
        topic,
        b'{"eventType": "PLAYER_REGISTERED", "x": "\\ud800"}',
        key="same-player",
    )
    produce(infra.kafka_bootstrap, topic, registered("after@example.com"), key="same-player")
    handler = RecordingHandler()
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        wait_until(lambda: handler.seen == ["after@example.com"])
        dead = dlq.wait_for(lambda r: True, count=2)
    finally:
        running.stop()
        dlq.close()
    cut, lone = dead
    assert cut["headers"]["dlq-truncated-from"] == str(len(huge))
    assert cut["value"] == huge[:MAX_DEAD_LETTER_VALUE_BYTES]
    assert lone["headers"]["dlq-reason"] == "schema_violation"
    assert "surrogate" in lone["headers"]["dlq-error"]


def test_offsets_are_committed_so_a_restart_does_not_redeliver(infra: Infra, topic: str) -> None:
    group = f"g-{uuid.uuid4().hex}"
    first = RecordingHandler()
    produce(infra.kafka_bootstrap, topic, registered("once@example.com"), key="p1")
    running = Running(infra, topic, group, first)
    wait_until(lambda: first.seen == ["once@example.com"])
    running.stop()

    second = RecordingHandler()
    produce(infra.kafka_bootstrap, topic, registered("later@example.com"), key="p1")
    running = Running(infra, topic, group, second)
    try:
        wait_until(lambda: second.seen == ["later@example.com"])
        time.sleep(1.0)
        assert second.seen == ["later@example.com"]
    finally:
        running.stop()


def test_a_dependency_outage_pauses_instead_of_dead_lettering(infra: Infra, topic: str) -> None:
    handler = RecordingHandler()
    handler.fail_once.add("retry@example.com")
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    produce(infra.kafka_bootstrap, topic, registered("retry@example.com"), key="p2")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        wait_until(lambda: handler.seen == ["retry@example.com"], timeout=30)
        assert dlq.matching(lambda r: True) == []
    finally:
        running.stop()
        dlq.close()


class DatabaseDown(RecordingHandler):
    def handle(self, events: Sequence[InboundEvent]) -> None:
        self.calls += 1
        raise OperationalError("SELECT 1", {}, Exception("database is down"))


def lag_of(group: str, topic: str) -> float | None:
    """The group's ``kafka_consumer_lag`` summed over the topic's partitions (None: never set)."""
    values = [
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "kafka_consumer_lag"
        for sample in metric.samples
        if sample.labels.get("group") == group and sample.labels.get("topic") == topic
    ]
    return sum(values) if values else None


def test_the_lag_gauge_shows_the_backlog_while_a_dependency_outage_pauses_the_group(
    infra: Infra, topic: str
) -> None:
    # The batch that keeps failing never reaches the measurement after it: the gauge would
    # keep its last value, while the records pile up, in the very case its alarm is for.
    group = f"g-{uuid.uuid4().hex}"
    handler = DatabaseDown()
    for n in range(3):
        produce(infra.kafka_bootstrap, topic, registered(f"w{n}@example.com"), key=f"p{n}")
    running = Running(infra, topic, group, handler)
    try:
        wait_until(lambda: lag_of(group, topic) == 3, timeout=30)
        for n in range(3, 5):
            produce(infra.kafka_bootstrap, topic, registered(f"w{n}@example.com"), key=f"p{n}")
        wait_until(lambda: lag_of(group, topic) == 5, timeout=30)
    finally:
        running.stop()
    assert handler.seen == []


def test_events_of_other_types_are_skipped(infra: Infra, topic: str) -> None:
    handler = RecordingHandler()
    other = IntegrationEvent("USER_STATUS_CHANGED", "u1", {"status": "INACTIVE", "role": "player"})
    produce(infra.kafka_bootstrap, topic, other.to_message(), key="u1")
    produce(infra.kafka_bootstrap, topic, registered("x@example.com"), key="u1")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        wait_until(lambda: handler.seen == ["x@example.com"])
    finally:
        running.stop()


class OnlyRegistrations(RecordingHandler):
    other_types_are_errors = True


def test_on_a_topic_of_its_own_another_type_is_dead_lettered(infra: Infra, topic: str) -> None:
    handler = OnlyRegistrations()
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    other = IntegrationEvent("USER_STATUS_CHANGED", "u1", {"status": "INACTIVE", "role": "player"})
    produce(infra.kafka_bootstrap, topic, other.to_message(), key="u1")
    produce(infra.kafka_bootstrap, topic, registered("y@example.com"), key="u1")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        (dead,) = dlq.wait_for(lambda r: True)
        wait_until(lambda: handler.seen == ["y@example.com"])
    finally:
        running.stop()
        dlq.close()
    assert dead["headers"]["dlq-reason"] == "unsupported_event_type"
    assert dead["value"]["eventId"] == other.event_id


class SortingHandler(EventHandler):
    """Checks each event itself, applies the good ones and hands back the refused ones."""

    event_types = frozenset({"PLAYER_REGISTERED"})

    def __init__(self, refuse: set[str]) -> None:
        self.refuse = refuse
        self.batches: list[list[str]] = []

    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        emails = [i.event.data["email"] for i in events]
        self.batches.append(emails)
        return [
            Rejected(i, "unknown_player", f"no player for {i.event.data['email']}")
            for i in events
            if i.event.data["email"] in self.refuse
        ]


def test_a_handler_may_refuse_some_events_of_a_batch_without_rerunning_it(
    infra: Infra, topic: str
) -> None:
    handler = SortingHandler(refuse={"ghost@example.com"})
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    emails = ["a@example.com", "ghost@example.com", "b@example.com"]
    for email in emails:
        produce(infra.kafka_bootstrap, topic, registered(email), key="same-player")
    running = Running(infra, topic, f"g-{uuid.uuid4().hex}", handler)
    try:
        (dead,) = dlq.wait_for(lambda r: True)
        wait_until(lambda: sum(len(b) for b in handler.batches) >= 3)
    finally:
        running.stop()
        dlq.close()
    # Every event was handed over once: nothing was retried one by one.
    assert sorted(e for batch in handler.batches for e in batch) == sorted(emails)
    assert dead["headers"]["dlq-reason"] == "unknown_player"
    assert dead["headers"]["dlq-error"] == "no player for ghost@example.com"
    assert dead["value"]["email"] == "ghost@example.com"
