"""Shared by the earning benchmarks: players for rewards, partner events on Kafka, and a reader
that counts REWARD_CONFIRMED records as they arrive."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import create_engine, text

from shared.persistence.database import normalise_url


def bulk_producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 500000,
        }
    )


def produce_all(producer: Producer, topic: str, records: Iterable[tuple[str, bytes]]) -> int:
    count = 0
    for key, value in records:
        while True:
            try:
                producer.produce(topic, key=key.encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
        count += 1
        if count % 5000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} records were not acknowledged")
    return count


def register_players(bootstrap: str, database_url: str, count: int) -> list[str]:
    """PLAYER_REGISTERED on ``players`` (as auth publishes it); waits until rewards knows them."""
    players = [str(uuid.uuid4()) for _ in range(count)]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    def records() -> Iterator[tuple[str, bytes]]:
        for player in players:
            message = {
                "eventId": str(uuid.uuid4()),
                "eventType": "PLAYER_REGISTERED",
                "version": 1,
                "occurredAt": now,
                "correlationId": None,
                "user_id": player,
                "email": f"{player[:8]}@bench.example",
                "registeredAt": now,
            }
            yield player, json.dumps(message).encode()

    produce_all(bulk_producer(bootstrap), "players", records())
    wait_for_count(database_url, "SELECT count(*) FROM players", count, timeout=120)
    return players


def wait_for_count(database_url: str, query: str, expected: int, timeout: float) -> float:
    engine = create_engine(normalise_url(database_url))
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as connection:
                found = int(connection.execute(text(query)).scalar_one())
            if found >= expected:
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{query}: {found} of {expected}")
            time.sleep(0.2)
    finally:
        engine.dispose()


_AMOUNTS = ["12.50", "48.20", "125.00", "250.75", "999.99", "35.00"]


def partner_event(player: str, occurred_at: datetime, rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    message: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "version": 1,
        "occurredAt": occurred_at.isoformat().replace("+00:00", "Z"),
        "correlationId": None,
        "user_id": player,
        "reference": f"BENCH-{rng.randrange(10**9)}",
    }
    if kind < 0.5:
        message.update(
            eventType="CASINO_SPEND", partnerId="casino", amountWagered=rng.choice(_AMOUNTS)
        )
    elif kind < 0.8:
        message.update(eventType="DINING", partnerId="dining", checkAmount=rng.choice(_AMOUNTS))
    else:
        message.update(eventType="HOTEL_STAY", partnerId="hotel", nights=rng.randint(1, 5))
    return message


def events_for(
    players: list[str], count: int, span: timedelta, seed: int = 7
) -> Iterator[tuple[str, bytes]]:
    """``count`` partner events over ``players``, dated over the last ``span``."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    seconds = int(span.total_seconds())
    for _ in range(count):
        player = rng.choice(players)
        occurred_at = now - timedelta(seconds=rng.randrange(seconds))
        yield player, json.dumps(partner_event(player, occurred_at, rng)).encode()


class ConfirmationCounter:
    """Reads ``reward-confirmed`` from its current end and counts distinct source events."""

    def __init__(self, bootstrap: str, topic: str = "reward-confirmed") -> None:
        self.sources: set[str] = set()
        self.points: dict[str, int] = {}
        self.records = 0
        self.last_at = 0.0
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"bench-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=10)
        partitions = []
        for partition in metadata.topics[topic].partitions:
            _low, high = self._consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10
            )
            partitions.append(TopicPartition(topic, partition, high))
        self._consumer.assign(partitions)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(1000, 0.1):
                if message.error():
                    continue
                document = json.loads(message.value() or b"{}")
                if document["sourceEventId"] not in self.sources:
                    player = document["user_id"]
                    self.points[player] = self.points.get(player, 0) + document["pointsAwarded"]
                self.sources.add(document["sourceEventId"])
                self.records += 1
                self.last_at = time.monotonic()

    def wait_for(self, count: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while len(self.sources) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.sources)} of {count} confirmations arrived")
            time.sleep(0.05)
        return self.last_at

    def points_by_player(self) -> dict[str, int]:
        return dict(self.points)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()
