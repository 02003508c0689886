"""A redeem worker killed with SIGKILL in the middle of a stream of 10,000 awards, then restarted:
once the stream is drained every award is in the wallet exactly once — none lost, none doubled.

A second worker joins the platform's (same consumer group, so the partitions are shared); it is
killed while both are crediting, its partitions fall back to the other member, and it is started
again and rejoins."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Producer
from sqlalchemy import create_engine, text

from embedded.servers import ManagedProcess
from embedded.services import SERVICES, run_manage, start_worker
from shared.application.events import IntegrationEvent
from shared.persistence.database import normalise_url
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import wait_until

EVENTS = 10_000
PLAYERS = 100
CHUNKS = 40
WAIT = 120.0

REDEEM = next(s for s in SERVICES if s.name == "redeem")


def produce_stream(bootstrap: str, events: list[IntegrationEvent], done: threading.Event) -> None:
    """Produce the awards in chunks spread over a few seconds, as a live stream would come."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    size = len(events) // CHUNKS
    for start in range(0, len(events), size):
        for event in events[start : start + size]:
            producer.produce(
                "reward-confirmed",
                key=event.user_id.encode(),
                value=json.dumps(event.to_message()).encode(),
            )
        producer.flush(10)
        time.sleep(0.1)
    assert producer.flush(30) == 0
    done.set()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path


def test_a_worker_killed_mid_stream_loses_and_doubles_nothing(
    platform: RunningPlatform, log_dir: Path
) -> None:
    env = platform.cluster.env.for_service(REDEEM)
    env["LOG_LEVEL"] = "INFO"
    engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["redeem"]))
    run = uuid.uuid4().hex[:8]
    players = [f"crash-{run}-{i:03d}" for i in range(PLAYERS)]
    expected: dict[str, int] = defaultdict(int)
    events: list[IntegrationEvent] = []
    for index in range(EVENTS):
        player = players[index % PLAYERS]
        # Mostly earnings, some reversals: balances may pass below zero on the way.
        points = -(index % 5) if index % 11 == 0 else 1 + index % 9
        expected[player] += points
        events.append(
            IntegrationEvent(
                "REWARD_CONFIRMED",
                player,
                {
                    "pointsAwarded": points,
                    "sourceEventId": str(uuid.uuid4()),
                    "sourceEventType": "CASINO_SPEND" if points >= 0 else "CASINO_SPEND_REVERSED",
                },
            )
        )

    def recorded() -> int:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM transactions "
                        "WHERE player_id LIKE :prefix AND idempotency_key LIKE 'reward:%'"
                    ),
                    {"prefix": f"crash-{run}-%"},
                ).scalar_one()
            )

    zero_awards = sum(1 for e in events if e.data["pointsAwarded"] == 0)
    second: ManagedProcess = start_worker(REDEEM, env, log_dir, name="redeem-worker-2")
    restarted: ManagedProcess | None = None
    try:
        log = log_dir / "redeem-worker-2.log"
        wait_until(
            lambda: log.exists() and "redeem-reward-confirmed" in log.read_text(),
            timeout=WAIT,
            what="the second worker joining",
        )
        # Let the group rebalance over both members before the stream starts (a wait, not a
        # check: had the second worker no partition yet, the test would only be weaker).
        time.sleep(3)
        produced = threading.Event()
        producer = threading.Thread(
            target=produce_stream,
            args=(platform.infra.kafka_bootstrap, events, produced),
            daemon=True,
        )
        producer.start()
        wait_until(lambda: recorded() >= 1500, timeout=WAIT, what="crediting to start")
        os.killpg(second.pid, signal.SIGKILL)
        second.process.wait(10)
        at_kill = recorded()
        assert at_kill < EVENTS - zero_awards, "the stream was over before the kill"
        restarted = start_worker(REDEEM, env, log_dir, name="redeem-worker-2-restarted")
        producer.join(WAIT)
        assert produced.is_set()
        wait_until(
            lambda: recorded() >= EVENTS - zero_awards, timeout=WAIT, what="the stream draining"
        )
    finally:
        for process in (second, restarted):
            if process is not None:
                process.stop()
    assert recorded() == EVENTS - zero_awards
    with engine.connect() as connection:
        balances: dict[str, int] = dict(
            connection.execute(
                text("SELECT player_id, points_balance FROM wallets WHERE player_id LIKE :p"),
                {"p": f"crash-{run}-%"},
            ).all()
        )
        keys = connection.execute(
            text(
                "SELECT count(DISTINCT idempotency_key) FROM transactions WHERE player_id LIKE :p"
            ),
            {"p": f"crash-{run}-%"},
        ).scalar_one()
    engine.dispose()
    assert balances == dict(expected)
    assert keys == EVENTS - zero_awards
    ledger = run_manage(REDEEM, platform.cluster.env.for_service(REDEEM), "check-ledger")
    assert '"discrepancies": []' in ledger
