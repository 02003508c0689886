"""Operator tools for Kafka: consumer lag, dead letters (list and replay), offset resets.

    export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092   # or --bootstrap ADDRESS before the command
    python -m shared.messaging.admin lag --group rewards-players --topic players
    python -m shared.messaging.admin dlq-list players [--limit 20]
    python -m shared.messaging.admin dlq-replay players [--reason schema_violation] [--dry-run]
    python -m shared.messaging.admin reset-offsets --group G --topic T \
        --to-datetime 2026-01-01T00:00:00Z

The broker comes from ``--bootstrap`` (given before the command) or ``KAFKA_BOOTSTRAP_SERVERS``;
without either the tool exits with status 2. The embedded platform's broker is 127.0.0.1:9092
(``endpoints.servers.kafka`` in .data/platform.json). ``lag`` needs at least one ``--topic``
(repeatable). ``KAFKA_SECURITY_PROTOCOL`` (``SSL`` for MSK) and the ``KAFKA_SASL_*`` and
``KAFKA_SSL_CA_LOCATION`` variables are honoured as by the services.
Resetting offsets needs the group's consumers stopped (Kafka refuses commits from outside an
active group: the tool then says so, changes nothing and exits with status 1).
``--to-datetime`` takes a time with its offset (``Z`` for UTC, or e.g. ``+01:00``): one without
is refused rather than read in the time zone of the machine the tool happens to run on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from shared.messaging.consumer import decode_headers, raw_headers
from shared.messaging.kafka import base_config

DLQ_HEADER_PREFIX = "dlq-"
#: what the broker answers a commit from outside a group whose consumers are running
_GROUP_MEMBERS_RUNNING = {
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.REBALANCE_IN_PROGRESS,
}


class GroupHasMembers(RuntimeError):
    """The group's consumers are running, so the broker refused to move its offsets."""


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time with its offset (``2026-01-01T00:00:00Z``, ``…+01:00``). Without one,
    the time would be read in the time zone of whatever machine the tool runs on."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time, e.g. 2026-01-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no offset: give one, e.g. {moment.isoformat()}Z for UTC or "
            f"{moment.isoformat()}+01:00"
        )
    return moment


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    high_watermark: int

    @property
    def lag(self) -> int:
        start = self.committed if self.committed is not None and self.committed >= 0 else 0
        return max(0, self.high_watermark - start)


def _connection(bootstrap: str) -> dict[str, Any]:
    """How to reach the broker: as the services do, TLS when ``KAFKA_SECURITY_PROTOCOL`` says
    so (MSK listens on TLS only), SASL credentials and a CA bundle from the same variables."""
    return base_config(
        {
            "bootstrap_servers": bootstrap,
            "security_protocol": os.environ.get("KAFKA_SECURITY_PROTOCOL") or "PLAINTEXT",
            "sasl_mechanism": os.environ.get("KAFKA_SASL_MECHANISM"),
            "sasl_username": os.environ.get("KAFKA_SASL_USERNAME"),
            "sasl_password": os.environ.get("KAFKA_SASL_PASSWORD"),
            "ssl_ca_location": os.environ.get("KAFKA_SSL_CA_LOCATION"),
            "client_id": "loyalty-admin",
        }
    )


def _consumer(bootstrap: str, group: str) -> Consumer:
    return Consumer(
        {
            **_connection(bootstrap),
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )


def _partitions(consumer: Consumer, topic: str) -> list[TopicPartition]:
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        raise SystemExit(f"unknown topic {topic}")
    return [TopicPartition(topic, p) for p in sorted(metadata.partitions)]


def consumer_lag(bootstrap: str, group: str, topics: Sequence[str]) -> list[PartitionLag]:
    """Committed offset and high watermark per partition of ``topics`` for ``group``."""
    consumer = _consumer(bootstrap, group)
    try:
        result = []
        for topic in topics:
            committed = consumer.committed(_partitions(consumer, topic), timeout=10)
            for tp in committed:
                _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                result.append(
                    PartitionLag(
                        tp.topic, tp.partition, tp.offset if tp.offset >= 0 else None, high
                    )
                )
        return result
    finally:
        consumer.close()


def _read_all(consumer: Consumer, partitions: list[TopicPartition]) -> Iterator[Message]:
    """Every record from the assigned positions up to the current end of each partition."""
    ends = {}
    for tp in partitions:
        _low, high = consumer.get_watermark_offsets(tp, timeout=10)
        ends[tp.partition] = high
    consumer.assign(partitions)
    remaining = {p for p, high in ends.items() if high > 0}
    positions = {tp.partition: tp.offset for tp in partitions}
    remaining = {p for p in remaining if positions[p] < 0 or positions[p] < ends[p]}
    while remaining:
        batch = consumer.consume(500, timeout=2.0)
        if not batch:
            break
        for message in batch:
            if message.error():
                continue
            yield message
            if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                remaining.discard(message.partition() or 0)


def list_dead_letters(bootstrap: str, topic: str, limit: int = 50) -> list[dict[str, Any]]:
    """The dead letters of ``topic`` (oldest first), with why they were dead-lettered."""
    consumer = _consumer(bootstrap, f"dlq-inspect-{uuid.uuid4().hex}")
    try:
        partitions = [
            TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING)
            for tp in _partitions(consumer, f"{topic}.dlq")
        ]
        records = []
        for message in _read_all(consumer, partitions):
            headers = decode_headers(message.headers())
            value = message.value() or b""
            records.append(
                {
                    "offset": message.offset(),
                    "key": (message.key() or b"").decode(errors="replace"),
                    "reason": headers.get("dlq-reason"),
                    "error": headers.get("dlq-error"),
                    "group": headers.get("dlq-consumer-group"),
                    "original": _origin(headers),
                    "failedAt": headers.get("dlq-failed-at"),
                    "value": value.decode(errors="replace")[:500],
                }
            )
            if len(records) >= limit:
                break
        return records
    finally:
        consumer.close()


def replay_dead_letters(
    bootstrap: str,
    topic: str,
    reason: str | None = None,
    event_id: str | None = None,
    dry_run: bool = False,
    group: str = "dlq-replay",
) -> int:
    """Produce dead letters of ``topic`` back to it (after the cause was fixed); returns how
    many records were (or, with ``dry_run``, would be) produced.

    A record that several consumer groups of the topic refused is in the dead-letter topic once
    per group, but goes back once: every group reads it from the topic again. Progress is kept
    as the committed offsets of ``group`` on ``<topic>.dlq``, so a second run replays only what
    arrived since; consumers drop any duplicate by ``eventId``. A run limited to one ``reason``
    keeps its progress apart (``<group>.reason.<reason>``), so the records it skipped stay ahead
    of an unlimited run; a run for one ``event_id`` keeps none.
    """
    progress = _progress_group(group, reason, event_id)
    # One event is looked for from the start, in a group used once.
    consumer = _consumer(bootstrap, progress or f"{group}.event.{uuid.uuid4().hex}")
    producer = Producer({**_connection(bootstrap), "enable.idempotence": True, "acks": "all"})
    replayed = 0
    try:
        partitions = consumer.committed(_partitions(consumer, f"{topic}.dlq"), timeout=10)
        for tp in partitions:
            if tp.offset < 0:
                tp.offset = OFFSET_BEGINNING
        last: dict[int, int] = {}
        seen: set[tuple[Any, ...]] = set()
        for message in _read_all(consumer, partitions):
            last[message.partition() or 0] = (message.offset() or 0) + 1
            headers = decode_headers(message.headers())
            if reason and headers.get("dlq-reason") != reason:
                continue
            if event_id and event_id not in (message.value() or b"").decode(errors="replace"):
                continue
            identity = _original_record(headers, message)
            if identity in seen:
                continue
            seen.add(identity)
            if "dlq-stub" in headers or "dlq-truncated-from" in headers:
                # Not the whole record (it did not fit a dead letter): replaying it would only
                # fail again. Its coordinates say where the original is.
                print(
                    f"not replayed (the dead letter holds only part of it): "
                    f"{headers.get('dlq-original-topic') or topic} partition "
                    f"{headers.get('dlq-original-partition')} offset "
                    f"{headers.get('dlq-original-offset')}",
                    file=sys.stderr,
                )
                continue
            replayed += 1
            if dry_run:
                continue
            original = headers.get("dlq-original-topic") or topic
            # The record's own headers as they came (repeated names, bytes), ours left out.
            kept: list[tuple[str, str | bytes | None]] = [
                (name, value)
                for name, value in raw_headers(message.headers())
                if not name.startswith(DLQ_HEADER_PREFIX)
            ]
            producer.produce(original, key=message.key(), value=message.value(), headers=kept)
            producer.poll(0)
        if not dry_run:
            if producer.flush(30):
                raise SystemExit("the broker did not acknowledge every replayed record")
            if last and progress is not None:
                consumer.commit(
                    offsets=[TopicPartition(f"{topic}.dlq", p, o) for p, o in last.items()],
                    asynchronous=False,
                )
        return replayed
    finally:
        consumer.close()


def _progress_group(group: str, reason: str | None, event_id: str | None) -> str | None:
    """Where a replay keeps its progress: an unlimited run in ``group``, a run for one reason
    in a group of its own (what it skips is not passed for the others), a run for one event
    nowhere (it reads from the start each time)."""
    if event_id:
        return None
    if reason:
        return f"{group}.reason.{reason}"
    return group


def reset_offsets(
    bootstrap: str,
    group: str,
    topic: str,
    *,
    to_earliest: bool = False,
    to_latest: bool = False,
    to_datetime: datetime | None = None,
) -> list[TopicPartition]:
    """Move ``group``'s committed offsets on ``topic`` (the group's consumers must be stopped:
    GroupHasMembers otherwise, nothing moved). ``to_datetime`` must carry its time zone."""
    if to_datetime is not None and to_datetime.tzinfo is None:
        raise ValueError("to_datetime needs a time zone")
    consumer = _consumer(bootstrap, group)
    try:
        partitions = _partitions(consumer, topic)
        if to_datetime is not None:
            millis = int(to_datetime.timestamp() * 1000)
            wanted = consumer.offsets_for_times(
                [TopicPartition(topic, tp.partition, millis) for tp in partitions], timeout=10
            )
            targets = []
            for tp in wanted:
                if tp.offset < 0:  # nothing at or after that time: the end
                    _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                    tp.offset = high
                targets.append(tp)
        else:
            targets = []
            for tp in partitions:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                targets.append(TopicPartition(topic, tp.partition, low if to_earliest else high))
            if not (to_earliest or to_latest):
                raise ValueError("choose --to-earliest, --to-latest or --to-datetime")
        try:
            consumer.commit(offsets=targets, asynchronous=False)
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() in _GROUP_MEMBERS_RUNNING:
                raise GroupHasMembers(
                    f"the group {group} has running consumers, and Kafka moves a group's "
                    f"offsets only when none runs ({error.str()}): stop its workers (on ECS, "
                    "hold their autoscaling at 0 first), wait for them to leave the group, "
                    "and run this again. No offset was moved."
                ) from exc
            raise
        return targets
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="shared.messaging.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    commands = parser.add_subparsers(dest="command", required=True)
    lag = commands.add_parser("lag", help="consumer lag of a group")
    lag.add_argument("--group", required=True)
    lag.add_argument("--topic", action="append", required=True)
    dlq_list = commands.add_parser("dlq-list", help="dead letters of a topic")
    dlq_list.add_argument("topic")
    dlq_list.add_argument("--limit", type=int, default=50)
    replay = commands.add_parser("dlq-replay", help="produce dead letters back to their topic")
    replay.add_argument("topic")
    replay.add_argument("--reason")
    replay.add_argument("--event-id")
    replay.add_argument("--dry-run", action="store_true")
    reset = commands.add_parser("reset-offsets", help="move a stopped group's offsets")
    reset.add_argument("--group", required=True)
    reset.add_argument("--topic", required=True)
    where = reset.add_mutually_exclusive_group(required=True)
    where.add_argument("--to-earliest", action="store_true")
    where.add_argument("--to-latest", action="store_true")
    where.add_argument(
        "--to-datetime",
        type=parse_instant,
        metavar="TIME",
        help="ISO 8601 with its offset: 2026-01-01T00:00:00Z, 2026-01-01T01:00:00+01:00",
    )
    args = parser.parse_args(argv)
    if not args.bootstrap:
        parser.error("--bootstrap or KAFKA_BOOTSTRAP_SERVERS is required")

    out = sys.stdout
    if args.command == "lag":
        rows = consumer_lag(args.bootstrap, args.group, args.topic)
        for row in rows:
            out.write(
                f"{row.topic}[{row.partition}] committed={row.committed} "
                f"end={row.high_watermark} lag={row.lag}\n"
            )
        out.write(f"total lag {sum(r.lag for r in rows)}\n")
    elif args.command == "dlq-list":
        for record in list_dead_letters(args.bootstrap, args.topic, args.limit):
            out.write(json.dumps(record) + "\n")
    elif args.command == "dlq-replay":
        count = replay_dead_letters(
            args.bootstrap, args.topic, args.reason, args.event_id, args.dry_run
        )
        out.write(f"{'would replay' if args.dry_run else 'replayed'} {count} record(s)\n")
    else:
        try:
            targets = reset_offsets(
                args.bootstrap,
                args.group,
                args.topic,
                to_earliest=args.to_earliest,
                to_latest=args.to_latest,
                to_datetime=args.to_datetime,
            )
        except GroupHasMembers as exc:
            sys.stderr.write(f"reset-offsets: {exc}\n")
            return 1
        except KafkaException as exc:
            sys.stderr.write(f"reset-offsets: the broker refused: {exc.args[0].str()}\n")
            return 1
        for tp in targets:
            out.write(f"{tp.topic}[{tp.partition}] -> {tp.offset}\n")
    return 0


def _original_record(headers: dict[str, str], message: Message) -> tuple[Any, ...]:
    """What identifies the record a dead letter is a copy of: its coordinates, or (refused
    after it was consumed, without them) its topic, key and value."""
    topic = headers.get("dlq-original-topic")
    if "dlq-original-offset" in headers:
        return (topic, headers.get("dlq-original-partition"), headers["dlq-original-offset"])
    return (topic, message.key(), message.value())


def _origin(headers: dict[str, str]) -> str:
    """``topic[partition]@offset``, or the topic alone for a record refused after it was
    consumed (an event parked until its wait ended)."""
    topic = headers.get("dlq-original-topic")
    if "dlq-original-offset" not in headers:
        return str(topic)
    return f"{topic}[{headers.get('dlq-original-partition')}]@{headers['dlq-original-offset']}"


if __name__ == "__main__":
    sys.exit(main())
