"""Before the embedded broker stops: let the workers finish what it holds.

The embedded Kafka broker keeps its records in memory (ADR 0008). A redemption accepted a moment
before Ctrl-C, or a stay posted and acknowledged, lives only there until a worker has consumed it;
stopped with it, the redemption would stay PENDING for good. So the platform stops its web
processes first (nothing new comes in), waits until every active consumer group has committed
every record of its topics and every outbox is empty, and only then stops the workers and the
servers. What is still unread after the wait is reported, not silently dropped.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import (
    Consumer,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

# Groups with members (an EMPTY group is one nobody runs, e.g. an operator's replay).
_ACTIVE = {
    ConsumerGroupState.STABLE,
    ConsumerGroupState.PREPARING_REBALANCING,
    ConsumerGroupState.COMPLETING_REBALANCING,
}


@dataclass(frozen=True, slots=True)
class Backlog:
    unread: int  # records of their topics the active consumer groups have not committed
    unpublished: int  # outbox rows the relays have not published yet

    @property
    def empty(self) -> bool:
        return not (self.unread or self.unpublished)

    def __str__(self) -> str:
        return f"{self.unread} unread record(s), {self.unpublished} unpublished event(s)"


def unread_records(
    bootstrap: str,
    groups: Collection[str] | None = None,
    consumed_topics: Collection[str] = (),
    timeout: float = 5.0,
) -> int:
    """Records the consumer groups with members (those of ``groups``, or every group the broker
    lists) have not committed.

    The embedded broker lists only groups that have committed an offset, so a group's very
    first records would go unseen: records on one of ``consumed_topics`` (topics the platform
    always reads) on which no group has committed anything yet count as unread too. A group
    without members (an operator's replay, say) has nothing to wait for.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if groups is None:
        groups = [
            g.group_id for g in admin.list_consumer_groups(request_timeout=timeout).result().valid
        ]
    active = []
    if groups:
        described = admin.describe_consumer_groups(list(groups), request_timeout=timeout)
        active = [name for name, future in described.items() if future.result().state in _ACTIVE]
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"drain-{uuid.uuid4().hex}"})
    try:
        unread = 0
        read_topics: set[str] = set()
        for name in active:
            offsets = admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(name)], request_timeout=timeout
            )[name].result()
            committed = {(tp.topic, tp.partition): tp.offset for tp in offsets.topic_partitions}
            # A group reads every partition of a topic it committed on, including partitions
            # it has not committed on yet.
            for topic in {topic for topic, _partition in committed}:
                read_topics.add(topic)
                unread += _behind(reader, topic, committed, timeout)
        for topic in set(consumed_topics) - read_topics:
            unread += _behind(reader, topic, {}, timeout)
        return unread
    finally:
        reader.close()


def _behind(
    reader: Consumer, topic: str, committed: Mapping[tuple[str, int], int], timeout: float
) -> int:
    """Records of ``topic`` after the committed positions (from the start where none is)."""
    metadata = reader.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return 0
    behind = 0
    for partition in metadata.partitions:
        low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
        position = committed.get((topic, partition), -1)
        behind += max(0, high - (position if position >= 0 else low))
    return behind


def unpublished_events(database_urls: Iterable[str]) -> int:
    """Rows waiting in the services' outboxes (published rows are deleted by the relays)."""
    total = 0
    for url in database_urls:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as connection:
                total += int(connection.execute(text("SELECT count(*) FROM outbox")).scalar_one())
        except ProgrammingError:  # a database without an outbox
            pass
        finally:
            engine.dispose()
    return total


def wait_until_drained(
    bootstrap: str,
    database_urls: Iterable[str],
    groups: Collection[str] | None = None,
    consumed_topics: Collection[str] = (),
    timeout: float = 20.0,
    interval: float = 0.5,
    progress: Callable[[Backlog], None] | None = None,
    report_every: float = 2.0,
) -> Backlog:
    """Wait until nothing is unread or unpublished, twice in a row (a worker may be between
    committing one hop and publishing the next); what is left when ``timeout`` passes.
    ``progress`` hears what is left, at most every ``report_every`` seconds."""
    urls = list(database_urls)
    deadline = time.monotonic() + timeout
    clean_checks = 0
    reported = float("-inf")
    while True:
        backlog = Backlog(
            unread_records(bootstrap, groups, consumed_topics), unpublished_events(urls)
        )
        clean_checks = clean_checks + 1 if backlog.empty else 0
        if clean_checks >= 2 or time.monotonic() >= deadline:
            return backlog
        due = time.monotonic() - reported >= report_every
        if progress is not None and not backlog.empty and due:
            progress(backlog)
            reported = time.monotonic()
        time.sleep(interval)
