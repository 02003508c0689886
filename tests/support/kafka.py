"""Kafka for tests: a probe that collects what arrives on a topic and waits for a match, and a
consumer runner started in a thread as a worker runs it."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Producer

from shared.messaging.consumer import (
    ConsumerRunner,
    ConsumerSettings,
    EventHandler,
    decode_headers,
)
from shared.messaging.kafka import consumer_config, create_producer
from shared.messaging.schemas import event_schemas


class TopicProbe:
    """Subscribes (own group, from the end of the topic) and records every record."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._assigned = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"test-probe-{uuid.uuid4().hex}",
                "auto.offset.reset": "latest",
                "enable.auto.commit": False,
                "session.timeout.ms": 2000,
                "heartbeat.interval.ms": 500,
                "fetch.wait.max.ms": 10,
            }
        )
        self._consumer.subscribe([topic], on_assign=lambda *_: self._assigned.set())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._assigned.wait(30):
            raise TimeoutError(f"no partition assignment for {topic}")
        # Assignment happens before fetch positions are known; let the consumer settle.
        time.sleep(0.5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(100, 0.1):
                if message.error():
                    continue
                headers = decode_headers(message.headers())
                value = message.value()
                key = message.key()
                try:
                    body = json.loads(value) if value else None
                except (ValueError, RecursionError):  # the raw bytes of a bad record
                    body = value
                with self._lock:
                    self.records.append(
                        {
                            "key": key.decode() if isinstance(key, bytes) else key,
                            "value": body,
                            "headers": headers,
                            "partition": message.partition(),
                            "offset": message.offset(),
                        }
                    )

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0, count: int = 1
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [r for r in self.records if predicate(r)]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        with self._lock:
            seen = len(self.records)
        raise AssertionError(f"expected {count} matching record(s) on {self.topic}; saw {seen}")

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.records if predicate(r)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def produce(
    bootstrap: str,
    topic: str,
    value: bytes | dict[str, Any] | None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    payload = json.dumps(value).encode() if isinstance(value, dict) else value
    producer.produce(
        topic,
        key=key.encode() if key else None,
        value=payload,
        headers=list((headers or {}).items()),
    )
    assert producer.flush(10) == 0


class RunningConsumer:
    """A consumer runner in a thread, as the worker runs it: short session timeouts so a test's
    group settles fast; ``settings`` are the runner's own (poll timeout, batch size, backoff)."""

    def __init__(
        self,
        kafka: Mapping[str, Any],
        topic: str,
        handler: EventHandler,
        group: str,
        **settings: Any,
    ) -> None:
        config: dict[str, Any] = {
            **kafka,
            "consumer": {
                "session_timeout_ms": 2000,
                "heartbeat_interval_ms": 500,
                "fetch_wait_max_ms": 10,
            },
        }
        self.runner = ConsumerRunner(
            consumer_factory=lambda: Consumer(consumer_config(config, group)),
            dead_letter_producer=create_producer(config),
            handler=handler,
            schemas=event_schemas(),
            settings=ConsumerSettings(group_id=group, topics=[topic], **settings),
        )
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the consumer runner did not stop"
