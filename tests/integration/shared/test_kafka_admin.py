"""Operator tools: dead-letter listing and replay, consumer lag, offset resets."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer

from shared.messaging.admin import (
    consumer_lag,
    list_dead_letters,
    main,
    replay_dead_letters,
    reset_offsets,
)
from shared.messaging.kafka import ensure_topics
from tests.support.kafka import TopicProbe, produce


def dead_letter(
    infra,
    topic: str,
    value: bytes,
    reason: str,
    *,
    group: str = "rewards-events",
    offset: int | None = 7,
) -> None:
    coordinates = {"dlq-original-partition": "0", "dlq-original-offset": str(offset)}
    produce(
        infra.kafka_bootstrap,
        f"{topic}.dlq",
        value,
        key="player-1",
        headers={
            "dlq-reason": reason,
            "dlq-error": "boom",
            "dlq-original-topic": topic,
            "dlq-consumer-group": group,
            **(coordinates if offset is not None else {}),
            "X-Correlation-ID": "corr-9",
        },
    )


def fresh_topic(infra) -> str:
    topic = f"admin-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [topic, f"{topic}.dlq"])
    return topic


def test_dead_letters_are_listed_with_their_reason(infra):
    topic = fresh_topic(infra)
    dead_letter(infra, topic, b'{"a": 1}', "schema_violation")
    dead_letter(infra, topic, b"oops", "invalid_json")
    records = list_dead_letters(infra.kafka_bootstrap, topic)
    assert [r["reason"] for r in records] == ["schema_violation", "invalid_json"]
    assert records[0]["original"] == f"{topic}[0]@7"
    assert records[0]["key"] == "player-1"
    assert records[0]["group"] == "rewards-events"


def test_replay_sends_dead_letters_back_once_without_their_dlq_headers(infra):
    topic = fresh_topic(infra)
    dead_letter(infra, topic, b'{"n": 1}', "processing_failed")
    dead_letter(infra, topic, b'{"n": 2}', "schema_violation", offset=8)
    probe = TopicProbe(infra.kafka_bootstrap, topic)
    try:
        assert replay_dead_letters(infra.kafka_bootstrap, topic, dry_run=True) == 2
        assert (
            replay_dead_letters(
                infra.kafka_bootstrap, topic, reason="processing_failed", group=f"replay-{topic}"
            )
            == 1
        )
        replayed = probe.wait_for(lambda r: True)
        assert replayed[0]["value"] == {"n": 1}
        assert replayed[0]["key"] == "player-1"
        assert replayed[0]["headers"] == {"X-Correlation-ID": "corr-9"}
        # A run for one reason remembers where it got to: nothing new, nothing replayed again.
        assert (
            replay_dead_letters(
                infra.kafka_bootstrap, topic, reason="processing_failed", group=f"replay-{topic}"
            )
            == 0
        )
        # What it skipped is still ahead of a run for every reason (the duplicate it sends
        # again is dropped by eventId), which then remembers where it got to.
        assert replay_dead_letters(infra.kafka_bootstrap, topic, group=f"replay-{topic}") == 2
        assert replay_dead_letters(infra.kafka_bootstrap, topic, group=f"replay-{topic}") == 0
        # One event is found wherever the runs got to, as often as asked.
        for _ in range(2):
            found = replay_dead_letters(
                infra.kafka_bootstrap,
                topic,
                event_id='"n": 2',
                dry_run=False,
                group=f"replay-{topic}",
            )
            assert found == 1
    finally:
        probe.close()


def test_a_record_refused_by_several_groups_goes_back_once(infra):
    """Each consumer group of a topic dead-letters its own copy of a record it refuses; the
    topic gets the record back once, and every group reads it from there."""
    topic = fresh_topic(infra)
    for group in ("redeem-players", "rewards-players", "notification-players"):
        dead_letter(infra, topic, b"not json", "invalid_json", group=group, offset=3)
    dead_letter(infra, topic, b'{"n": 4}', "processing_failed", offset=4)
    for group in ("redeem-players", "rewards-players"):  # refused after it was consumed
        dead_letter(infra, topic, b'{"n": 5}', "player_wait_expired", group=group, offset=None)
    dead_letter(infra, topic, b'{"n": 6}', "player_wait_expired", offset=None)
    probe = TopicProbe(infra.kafka_bootstrap, topic)
    try:
        assert replay_dead_letters(infra.kafka_bootstrap, topic, dry_run=True) == 4
        assert replay_dead_letters(infra.kafka_bootstrap, topic, group=f"replay-{topic}") == 4
        # A record after them on the same partition: once it is seen, so is every replayed one.
        produce(infra.kafka_bootstrap, topic, {"end": True}, key="player-1")
        records = probe.wait_for(lambda r: r["value"] == {"end": True})
        replayed = [r["value"] for r in probe.records[: probe.records.index(records[0])]]
        assert replayed == [b"not json", {"n": 4}, {"n": 5}, {"n": 6}]
    finally:
        probe.close()


def test_lag_and_offset_resets(infra):
    topic = fresh_topic(infra)
    for n in range(3):
        produce(infra.kafka_bootstrap, topic, {"n": n}, key="same")
    group = f"g-{uuid.uuid4().hex[:8]}"
    reset_offsets(infra.kafka_bootstrap, group, topic, to_latest=True)
    assert sum(p.lag for p in consumer_lag(infra.kafka_bootstrap, group, [topic])) == 0
    reset_offsets(infra.kafka_bootstrap, group, topic, to_earliest=True)
    assert sum(p.lag for p in consumer_lag(infra.kafka_bootstrap, group, [topic])) == 3


def test_the_command_line(infra, capsys):
    topic = fresh_topic(infra)
    dead_letter(infra, topic, b"{}", "schema_violation")
    assert main(["--bootstrap", infra.kafka_bootstrap, "dlq-list", topic]) == 0
    assert "schema_violation" in capsys.readouterr().out
    assert main(["--bootstrap", infra.kafka_bootstrap, "dlq-replay", topic, "--dry-run"]) == 0
    assert "would replay 1 record" in capsys.readouterr().out


def test_a_dead_letter_holding_part_of_its_record_is_not_replayed(infra, capsys):
    topic = fresh_topic(infra)
    dead_letter(infra, topic, b'{"n": 1}', "processing_failed")
    produce(  # a stub: the record did not fit a dead letter
        infra.kafka_bootstrap,
        f"{topic}.dlq",
        None,
        key="player-1",
        headers={
            "dlq-reason": "invalid_json",
            "dlq-original-topic": topic,
            "dlq-original-partition": "0",
            "dlq-original-offset": "12",
            "dlq-stub": "the record did not fit",
        },
    )
    assert replay_dead_letters(infra.kafka_bootstrap, topic, group=f"replay-{topic}") == 1
    assert f"{topic} partition 0 offset 12" in capsys.readouterr().err


def test_a_reset_of_a_group_whose_consumers_run_is_refused_with_a_message(infra, capsys):
    topic = fresh_topic(infra)
    produce(infra.kafka_bootstrap, topic, {"n": 1}, key="same")
    group = f"g-{uuid.uuid4().hex[:8]}"
    reset_offsets(infra.kafka_bootstrap, group, topic, to_latest=True)
    running = Consumer(
        {
            "bootstrap.servers": infra.kafka_bootstrap,
            "group.id": group,
            "session.timeout.ms": 6000,
            "enable.auto.commit": False,
        }
    )
    try:
        running.subscribe([topic])
        deadline = time.monotonic() + 20
        while not running.assignment() and time.monotonic() < deadline:
            running.poll(0.2)
        assert running.assignment(), "the consumer never joined its group"

        arguments = ["reset-offsets", "--group", group, "--topic", topic, "--to-earliest"]
        assert main(["--bootstrap", infra.kafka_bootstrap, *arguments]) == 1
    finally:
        running.close()
    error = capsys.readouterr().err
    assert error.startswith(f"reset-offsets: the group {group} has running consumers")
    assert "Traceback" not in error
    assert "No offset was moved" in error
    # Still where it was: nothing to read.
    assert sum(p.lag for p in consumer_lag(infra.kafka_bootstrap, group, [topic])) == 0
