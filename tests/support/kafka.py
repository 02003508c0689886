"""A Kafka consumer for tests: collects what arrives on a topic and waits for a match."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, Producer

from shared.messaging.consumer import decode_headers


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
                except ValueError:
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
