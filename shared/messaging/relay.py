"""The outbox relay: publishes committed outbox rows to Kafka, in order, then deletes them.

One relay per service is active at a time (a PostgreSQL advisory lock elects it), so the order of
rows — and therefore the order of one player's events — is kept. It wakes on ``NOTIFY`` from the
outbox trigger and polls as a fallback. Delivery is at least once: a crash between the broker's
acknowledgement and the delete republishes a row, and consumers drop it by ``eventId``.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Mapping
from typing import Any

import psycopg
from confluent_kafka import KafkaError
from sqlalchemy import (
    BigInteger,
    Engine,
    MetaData,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.messaging.kafka import MessageProducer
from shared.observability.logging import get_logger
from shared.observability.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED
from shared.persistence.outbox import OUTBOX_CHANNEL, outbox_table

log = get_logger(__name__)
_outbox = outbox_table(MetaData())
# Built once: with a row or two per batch (claims one by one), building and hashing the
# statements cost the relay more CPU than running them.
_NEXT_BATCH = (
    select(
        _outbox.c.id,
        _outbox.c.topic,
        _outbox.c.message_key,
        # As text: published as stored, without decoding and encoding it again.
        cast(_outbox.c.payload, Text).label("payload"),
        _outbox.c.headers,
    )
    .order_by(_outbox.c.id)
    .limit(bindparam("batch_size"))
    .with_for_update(skip_locked=True)
)
_DELETE_PUBLISHED = delete(_outbox).where(
    _outbox.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger)))
)


class PublishFailed(RuntimeError):
    pass


class OutboxRelay:
    """Runs in the service's worker process until :meth:`stop` is called."""

    @classmethod
    def for_worker(
        cls, engine: Engine, producer: MessageProducer, service: str, worker: Mapping[str, Any]
    ) -> OutboxRelay:
        """A relay with the worker's ``relay_batch_size`` and ``relay_poll_seconds``."""
        return cls(
            engine,
            producer,
            service=service,
            batch_size=int(worker["relay_batch_size"]),
            poll_interval=float(worker["relay_poll_seconds"]),
        )

    def __init__(
        self,
        engine: Engine,
        producer: MessageProducer,
        service: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        flush_timeout: float = 30.0,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._service = service
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._flush_timeout = flush_timeout
        self._stopping = threading.Event()
        self._lock_key = zlib.crc32(f"outbox-relay:{service}".encode())
        self.name = f"{service}-outbox-relay"

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        log.info("outbox_relay_starting")
        while not self._stopping.is_set():
            try:
                self._lead()
            except Exception:
                log.exception("outbox_relay_failed")
                self._stopping.wait(min(5.0, self._poll_interval * 2))
        self._producer.flush(self._flush_timeout)
        log.info("outbox_relay_stopped")

    def _listener_dsn(self) -> str:
        url = self._engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def _lead(self) -> None:
        """Hold the leader lock on a dedicated connection and publish while holding it."""
        with psycopg.connect(self._listener_dsn(), autocommit=True) as listener:
            while not self._stopping.is_set():
                row = listener.execute(
                    "SELECT pg_try_advisory_lock(%s)", (self._lock_key,)
                ).fetchone()
                if row and row[0]:
                    break
                self._stopping.wait(self._poll_interval)
            if self._stopping.is_set():
                return
            log.info("outbox_relay_leading")
            listener.execute(f"LISTEN {OUTBOX_CHANNEL}")
            last_backlog_check = 0.0
            while not self._stopping.is_set():
                try:
                    published = self.publish_batch()
                except PublishFailed:
                    # The rows wait for the broker: the gauge must say so rather than keep the
                    # value of the last time publishing worked.
                    self._record_backlog()
                    raise
                now = time.monotonic()
                if now - last_backlog_check > 5.0:
                    self._record_backlog()
                    last_backlog_check = now
                if published >= self._batch_size:
                    continue
                self._wait_for_notify(listener)

    def _wait_for_notify(self, listener: psycopg.Connection[Any]) -> None:
        # The generator returns after the first notification or the timeout; any further
        # notifications queued meanwhile are drained so one commit does not cause many polls.
        for _ in listener.notifies(timeout=self._poll_interval, stop_after=1):
            pass
        for _ in listener.notifies(timeout=0.0):
            pass

    def publish_batch(self) -> int:
        """Publish up to one batch; returns the number of rows published."""
        with self._engine.begin() as connection:
            rows = connection.execute(_NEXT_BATCH, {"batch_size": self._batch_size}).all()
            if not rows:
                return 0
            failures: list[KafkaError] = []

            def on_delivery(error: KafkaError | None, _msg: Any) -> None:
                if error is not None:
                    failures.append(error)

            for row in rows:
                headers: list[tuple[str, str | bytes | None]] = [
                    (k, str(v).encode()) for k, v in (row.headers or {}).items() if v
                ]
                self._producer.produce(
                    row.topic,
                    key=row.message_key.encode(),
                    value=row.payload.encode("utf-8"),
                    headers=headers,
                    on_delivery=on_delivery,
                )
                self._producer.poll(0)
            remaining = self._producer.flush(self._flush_timeout)
            if remaining or failures:
                raise PublishFailed(
                    f"{len(failures)} deliveries failed, {remaining} unacknowledged"
                    + (f": {failures[0]}" if failures else "")
                )
            connection.execute(_DELETE_PUBLISHED, {"ids": [r.id for r in rows]})
        OUTBOX_PUBLISHED.labels(self._service).inc(len(rows))
        return len(rows)

    def _record_backlog(self) -> None:
        with self._engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(_outbox)).scalar_one()
        OUTBOX_BACKLOG.labels(self._service).set(count)
