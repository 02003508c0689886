"""A batch's offsets are committed only once the broker took its dead letters."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from shared.messaging.consumer import (
    ConsumerRunner,
    ConsumerSettings,
    DependencyDown,
    EventHandler,
    InboundEvent,
    Rejected,
)
from shared.messaging.schemas import event_schemas
from tests.support.partner_events import partner_message


class AcceptEverything(EventHandler):
    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        return []


class DeadLetterBroker:
    """The dead-letter producer: ``refuse`` makes the broker refuse what it is sent (no write
    permission on the topic, a record over its size limit)."""

    def __init__(self, refuse: KafkaError | None = None) -> None:
        self.refuse = refuse
        self.pending: list[tuple[Callable[..., None], Message]] = []
        self.sent: list[str] = []

    def produce(self, topic: str, *, on_delivery: Callable[..., None], **_: Any) -> None:
        self.pending.append((on_delivery, Message(topic=topic)))

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        for report, message in self.pending:
            report(self.refuse, message)
            if self.refuse is None:
                self.sent.append(message.topic() or "")
        self.pending.clear()
        return 0


class Committed:
    def __init__(self) -> None:
        self.offsets: list[TopicPartition] = []

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.offsets.extend(offsets)


def runner(broker: DeadLetterBroker) -> ConsumerRunner:
    return ConsumerRunner(
        consumer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        dead_letter_producer=broker,  # type: ignore[arg-type]
        handler=AcceptEverything(),
        schemas=event_schemas(),
        settings=ConsumerSettings(group_id="test-group", topics=["reward-events"]),
    )


def not_json(offset: int) -> Message:
    return Message(topic="reward-events", partition=0, offset=offset, value=b"{not json")


def test_a_refused_dead_letter_keeps_the_batch_uncommitted() -> None:
    broker = DeadLetterBroker(refuse=KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED))
    consumer = Committed()
    with pytest.raises(DependencyDown, match="refused 1 dead-letter record"):
        runner(broker).process(consumer, [not_json(7)])  # type: ignore[arg-type]
    assert consumer.offsets == []  # consumed again, dead-lettered again


def test_the_batch_is_committed_once_its_dead_letters_are_in() -> None:
    broker = DeadLetterBroker()
    consumer = Committed()
    consumer_runner = runner(broker)
    consumer_runner.process(consumer, [not_json(7)])  # type: ignore[arg-type]
    assert broker.sent == ["reward-events.dlq"]
    assert [(tp.topic, tp.offset) for tp in consumer.offsets] == [("reward-events", 8)]
    # A refusal reported for an earlier, uncommitted batch does not fail the next one.
    broker.refuse = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
    with pytest.raises(DependencyDown):
        consumer_runner.process(consumer, [not_json(8)])  # type: ignore[arg-type]
    broker.refuse = None
    consumer_runner.process(consumer, [not_json(8)])  # type: ignore[arg-type]
    assert consumer.offsets[-1].offset == 9


class RecordingBroker(DeadLetterBroker):
    """Keeps what it is given; refuses locally, as librdkafka does, a record over ``limit``."""

    def __init__(self, limit: int = 1_000_000) -> None:
        super().__init__()
        self.limit = limit
        self.records: list[dict[str, Any]] = []

    def produce(self, topic: str, *, on_delivery: Callable[..., None], **record: Any) -> None:
        size = len(record.get("value") or b"") + len(record.get("key") or b"")
        size += sum(len(name.encode()) + len(value or b"") for name, value in record["headers"])
        if size > self.limit:
            raise KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
        self.records.append(record)
        super().produce(topic, on_delivery=on_delivery)


def hostile(offset: int, headers: list[tuple[str, str | bytes | None]]) -> Message:
    return Message(
        topic="reward-events", partition=0, offset=offset, value=b"{not json", headers=headers
    )


def test_a_dead_letter_fits_whatever_the_original_headers() -> None:
    broker = RecordingBroker()
    consumer = Committed()
    huge_name: list[tuple[str, str | bytes | None]] = [("n" * 1_000_500, b"v")]
    many_ours: list[tuple[str, str | bytes | None]] = [
        (f"dlq-{n}", b"x" * 4096) for n in range(300)
    ]
    records = [hostile(3, huge_name), hostile(4, many_ours)]
    runner(broker).process(consumer, records)  # type: ignore[arg-type]
    assert [tp.offset for tp in consumer.offsets] == [5]  # the partition moves on
    first, second = (dict(r["headers"]) for r in broker.records)
    assert first["dlq-reason"] == b"invalid_json"
    assert max(len(name.encode()) for name in first) <= 256
    assert second["dlq-headers-dropped"] == b"268"
    assert len(second) <= 32 + 10


def test_a_dead_letter_the_producer_refuses_is_sent_as_a_stub() -> None:
    broker = RecordingBroker(limit=10_000)
    consumer = Committed()
    too_big = Message(topic="reward-events", partition=0, offset=4, value=b"{" * 20_000)
    runner(broker).process(consumer, [too_big])  # type: ignore[arg-type]
    stub = dict(broker.records[-1]["headers"])
    assert broker.records[-1]["value"] is None
    assert stub["dlq-reason"] == b"invalid_json"
    assert b"did not fit" in stub["dlq-stub"]
    assert stub["dlq-original-offset"] == b"4"
    assert [tp.offset for tp in consumer.offsets] == [5]


class RefuseEverything(EventHandler):
    def handle(self, events: Sequence[InboundEvent]) -> list[Rejected]:
        return [Rejected(e, "unknown_player", "nobody") for e in events]


def test_a_dead_letter_is_the_record_as_it_came() -> None:
    broker = RecordingBroker()
    consumer = Committed()
    refusing = ConsumerRunner(
        consumer_factory=lambda: None,  # type: ignore[arg-type,return-value]
        dead_letter_producer=broker,  # type: ignore[arg-type]
        handler=RefuseEverything(),
        schemas=event_schemas(),
        settings=ConsumerSettings(group_id="test-group", topics=["reward-events"]),
    )
    player = "7d2b3c1e-0f4a-4b5c-9d6e-1a2b3c4d5e6f"
    # Spaced out, as the producer wrote it: a copy re-serialised by us would not be byte-equal.
    value = json.dumps(partner_message(player), indent=2).encode()
    headers: list[tuple[str, str | bytes | None]] = [
        ("trace", b"one"),
        ("trace", b"two"),  # a name given twice keeps both
        ("raw", b"\xff\xfe"),  # not UTF-8: kept as bytes
        ("empty", None),
    ]
    record = Message(
        topic="reward-events",
        partition=1,
        offset=9,
        key=player.encode(),
        value=value,
        headers=headers,
    )
    refusing.process(consumer, [record])  # type: ignore[arg-type]
    [sent] = broker.records
    assert sent["value"] == value
    assert sent["key"] == player.encode()
    assert [h for h in sent["headers"] if not h[0].startswith("dlq-")] == headers
    assert dict(sent["headers"])["dlq-reason"] == b"unknown_player"
