"""A producer that a fatal error broke is replaced, and what it held is reported failed."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from shared.messaging.kafka import RenewingProducer


class FakeProducer:
    """Holds records until told to deliver them; a purge fails them at the next flush."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.error_cb = config["error_cb"]
        self.pending: list[Any] = []
        self.purged = False
        self.refuse: KafkaError | None = None

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: Any = None,
        on_delivery: Any = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None:
        if self.refuse is not None:
            raise KafkaException(self.refuse)
        self.pending.append(on_delivery)

    def deliver(self, error: KafkaError | None = None) -> None:
        self.pending.pop(0)(error, None)

    def poll(self, timeout: float = -1) -> int:
        return 0

    def flush(self, timeout: float = -1) -> int:
        if self.purged:
            while self.pending:
                self.deliver(KafkaError(KafkaError._PURGE_QUEUE))
        return len(self.pending)

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        self.purged = True

    def __len__(self) -> int:
        return len(self.pending)


@pytest.fixture
def made() -> list[FakeProducer]:
    return []


@pytest.fixture
def producer(made: list[FakeProducer]) -> RenewingProducer:
    def factory(config: dict[str, Any]) -> FakeProducer:
        made.append(FakeProducer(config))
        return made[-1]

    return RenewingProducer({"bootstrap.servers": "x"}, factory=factory)


def test_a_fatal_error_gets_a_new_producer_and_the_old_ones_records_fail(
    producer: RenewingProducer, made: list[FakeProducer]
) -> None:
    reports: list[KafkaError | None] = []
    producer.produce("t", b"1", on_delivery=lambda e, _m: reports.append(e))
    producer.produce("t", b"2", on_delivery=lambda e, _m: reports.append(e))
    made[0].error_cb(KafkaError(KafkaError._FATAL, "fenced", fatal=True))
    producer.produce("t", b"3", on_delivery=lambda e, _m: reports.append(e))
    assert len(made) == 2
    assert made[0].purged
    assert len(producer) == 3  # the broken one's two are not delivered, nor forgotten
    made[1].deliver()
    assert producer.flush(1) == 0
    assert [e.code() if e else None for e in reports] == [
        None,
        KafkaError._PURGE_QUEUE,
        KafkaError._PURGE_QUEUE,
    ]


def test_a_fenced_delivery_report_or_a_fatal_refusal_renews_it(
    producer: RenewingProducer, made: list[FakeProducer]
) -> None:
    producer.produce("t", b"1")
    made[0].deliver(KafkaError(KafkaError.PRODUCER_FENCED))
    producer.produce("t", b"2")
    assert len(made) == 2
    made[1].refuse = KafkaError(KafkaError._FATAL, "fatal", fatal=True)
    with pytest.raises(KafkaException):
        producer.produce("t", b"3")
    producer.produce("t", b"4")
    assert len(made) == 3


def test_other_errors_keep_the_producer(
    producer: RenewingProducer, made: list[FakeProducer]
) -> None:
    producer.produce("t", b"1")
    made[0].error_cb(KafkaError(KafkaError._TRANSPORT, "broker down"))
    made[0].deliver(KafkaError(KafkaError._MSG_TIMED_OUT))
    producer.produce("t", b"2")
    assert len(made) == 1
