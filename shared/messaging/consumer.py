"""The consumer runner: validate, hand batches to a handler, dead-letter what cannot be processed.

Offsets are committed only after the handler returned (its effects and the processed event ids are
committed in the service's own transaction first), so delivery is at least once and handlers
deduplicate by ``eventId``. A record that fails validation, or keeps failing in the handler, is
written to ``<topic>.dlq`` with the reason in its headers, and the partition keeps moving.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from shared.application.events import IntegrationEvent, dead_letter_headers
from shared.json_text import json_text_has_lone_surrogate, json_text_has_nul, loads
from shared.messaging.kafka import MessageProducer, consumer_config
from shared.messaging.schemas import EventSchemaError, EventSchemas
from shared.observability import context
from shared.observability.logging import get_logger
from shared.observability.metrics import CONSUMER_LAG, EVENTS_CONSUMED

# A dead letter always fits under the producer's 1 MB message limit, whatever a producer with a
# higher limit managed to publish: a record the dead-letter topic refused would stop the
# partition (the consumer would fail on it at every restart). What is cut is noted in
# ``dlq-truncated-from`` (the original value's size) and ``dlq-headers-dropped`` (how many of
# the original headers were left out). At most 32 * (256 + 4096) bytes of headers, 512 KiB of
# value, 1 KiB of key and our own headers: well under 1 MB.
MAX_DEAD_LETTER_VALUE_BYTES = 512 * 1024
MAX_DEAD_LETTER_KEY_BYTES = 1024
MAX_DEAD_LETTER_HEADER_BYTES = 4096
MAX_DEAD_LETTER_HEADER_NAME_BYTES = 256
MAX_DEAD_LETTER_HEADERS = 32

log = get_logger(__name__)


class DependencyDown(Exception):
    """A dependency of the handler (database, cache, another service) is unreachable: the batch
    is not committed and is consumed again once the runner has rejoined after a pause."""


def default_transient_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "a dependency is down", not "this event is bad"."""
    import redis.exceptions
    import sqlalchemy.exc

    from shared.domain.exceptions import DependencyUnavailable

    errors: list[type[BaseException]] = [
        sqlalchemy.exc.OperationalError,
        sqlalchemy.exc.InterfaceError,
        sqlalchemy.exc.TimeoutError,
        redis.exceptions.ConnectionError,
        redis.exceptions.TimeoutError,
        DependencyUnavailable,
    ]
    try:
        import pymongo.errors

        errors.extend([pymongo.errors.AutoReconnect, pymongo.errors.ServerSelectionTimeoutError])
    except ImportError:  # pragma: no cover - pymongo ships with mongoengine
        pass
    return tuple(errors)


class RejectEvent(Exception):
    """Raised by a handler for an event that can never succeed (unknown player, bad reference):
    it goes straight to the dead-letter topic without retries."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A validated record: the event plus where it came from."""

    event: IntegrationEvent
    topic: str
    partition: int
    offset: int
    key: str | None
    raw: Mapping[str, Any] = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: the record as received, dead-lettered as it came (key, bytes and every header)
    record: Message | None = field(default=None, repr=False, compare=False)

    @property
    def trace(self) -> context.TraceContext:
        headers = dict(self.headers)
        if self.event.correlation_id and context.CORRELATION_HEADER not in headers:
            headers[context.CORRELATION_HEADER] = self.event.correlation_id
        return context.from_headers(headers)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event of a batch the handler refused while applying the others."""

    inbound: InboundEvent
    reason: str
    message: str


class EventHandler(ABC):
    """Processes a batch of events of one consumer group; idempotent by ``eventId``."""

    #: event types this handler acts on; other valid events on its topics are skipped
    event_types: frozenset[str] = frozenset()
    #: the topics carry nothing but ``event_types``: another type is a misrouted record, sent
    #: to the dead-letter topic (``unsupported_event_type``) rather than skipped
    other_types_are_errors: bool = False

    @abstractmethod
    def handle(self, events: Sequence[InboundEvent]) -> Sequence[Rejected] | None:
        """Apply the effects of ``events`` (all or nothing). Raise :class:`RejectEvent` for an
        event that can never succeed; any other exception is retried, then dead-lettered.

        A handler that checks each event of a batch may instead apply the good ones and return
        the refused ones: they are dead-lettered without holding back (or re-running) the rest.
        """


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    group_id: str
    topics: Sequence[str]
    batch_size: int = 500
    poll_timeout: float = 0.5
    retry_attempts: int = 3
    retry_backoff: float = 0.2
    lag_interval: float = 10.0
    transient: tuple[type[BaseException], ...] = field(default_factory=default_transient_errors)


class ConsumerRunner:
    """Runs one consumer group member in the worker until :meth:`stop` (SIGTERM) is called."""

    def __init__(
        self,
        consumer_factory: Callable[[], Consumer],
        dead_letter_producer: MessageProducer,
        handler: EventHandler,
        schemas: EventSchemas,
        settings: ConsumerSettings,
    ) -> None:
        self._consumer_factory = consumer_factory
        self._dlq = dead_letter_producer
        self._handler = handler
        self._schemas = schemas
        self._settings = settings
        self._stopping = threading.Event()
        self.name = f"consumer-{settings.group_id}"
        #: why the broker refused dead letters of the batch in hand (delivery reports)
        self._dead_letters_refused: list[str] = []

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            consumer = self._consumer_factory()
            consumer.subscribe(list(self._settings.topics))
            log.info(
                "consumer_started", group=self._settings.group_id, topics=self._settings.topics
            )
            last_lag = 0.0
            try:
                while not self._stopping.is_set():
                    messages = consumer.consume(
                        num_messages=self._settings.batch_size, timeout=self._settings.poll_timeout
                    )
                    if messages:
                        self.process(consumer, messages)
                        backoff = 0.5
                    now = time.monotonic()
                    if now - last_lag >= self._settings.lag_interval:
                        self._record_lag(consumer)
                        last_lag = now
            except DependencyDown as exc:
                # Nothing of the failed batch was committed: rejoin after a pause and the records
                # are delivered again from the last committed offsets.
                log.warning(
                    "consumer_paused",
                    group=self._settings.group_id,
                    error=str(exc),
                    retry_in=backoff,
                )
                # A paused group is the lag alarm's main case: the batch that keeps failing never
                # reaches the measurement after it, so the gauge is refreshed at every pause.
                self._record_lag(consumer)
            finally:
                # Leaving the group lets the other members take our partitions over at once.
                consumer.close()
                self._dlq.flush(10)
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, 30.0)
        log.info("consumer_stopped", group=self._settings.group_id)

    # -- one batch ----------------------------------------------------------------------------

    def process(self, consumer: Consumer, messages: Sequence[Message]) -> None:
        # Reports of an earlier batch's dead letters (that batch was not committed) are moot.
        self._dead_letters_refused.clear()
        valid: list[InboundEvent] = []
        offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer_error", error=str(error))
                continue
            topic, partition, offset = _coordinates(message)
            offsets[(topic, partition)] = offset + 1
            inbound = self._parse(message)
            if inbound is None:
                continue
            if (
                self._handler.event_types
                and inbound.event.event_type not in self._handler.event_types
            ):
                if self._handler.other_types_are_errors:
                    self._dead_letter(
                        message,
                        "unsupported_event_type",
                        f"{inbound.event.event_type} is not carried by {topic}",
                    )
                else:
                    EVENTS_CONSUMED.labels(self._settings.group_id, topic, "skipped").inc()
                continue
            valid.append(inbound)
        if valid:
            self._dispatch(valid)
        if self._dlq.flush(10):
            raise DependencyDown("dead-letter records were not acknowledged by the broker")
        if self._dead_letters_refused:
            # Committing now would lose those records: consumed again, dead-lettered again.
            first, count = self._dead_letters_refused[0], len(self._dead_letters_refused)
            self._dead_letters_refused.clear()
            raise DependencyDown(f"the broker refused {count} dead-letter record(s): {first}")
        if offsets:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )

    def _parse(self, message: Message) -> InboundEvent | None:
        raw_value = message.value()
        headers = decode_headers(message.headers())
        try:
            if raw_value is None:
                raise EventSchemaError("empty record")
            if len(raw_value) > 1_000_000:
                raise EventSchemaError("record larger than 1 MB")
            if json_text_has_nul(raw_value):
                # PostgreSQL cannot store it: refused here, not as a failed batch.
                raise EventSchemaError("text may not contain NUL characters (\\u0000)")
            if json_text_has_lone_surrogate(raw_value):
                raise EventSchemaError("text may not contain half of a UTF-16 surrogate pair")
            # UTF-8 only, as RFC 8259 asks: Python would also take UTF-16 or UTF-32, whose
            # escapes the byte checks above cannot see.
            document = loads(raw_value.decode("utf-8"))
            if not isinstance(document, dict):
                raise EventSchemaError("the record is not a JSON object")
            self._schemas.validate(document)
            try:
                event = IntegrationEvent.from_message(document)
            except ValueError as exc:  # what the schema cannot say (a timestamp out of range)
                raise EventSchemaError(str(exc)) from None
        except (ValueError, KeyError, TypeError) as exc:
            reason = "schema_violation" if isinstance(exc, EventSchemaError) else "invalid_json"
            self._dead_letter(message, reason, str(exc))
            return None
        except RecursionError:
            # Nested deeper than the parser or the validator can follow: never processable,
            # and left uncaught it would stop the consumer on the same record at every restart.
            self._dead_letter(message, "invalid_json", "the record is nested too deeply")
            return None
        key = message.key()
        topic, partition, offset = _coordinates(message)
        return InboundEvent(
            event=event,
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.decode("utf-8", "replace") if key else None,
            raw=document,
            headers=headers,
            record=message,
        )

    def _dispatch(self, events: list[InboundEvent]) -> None:
        group = self._settings.group_id
        try:
            with context.bound(events[0].trace):
                rejected = self._handler.handle(events)
            self._settle(events, rejected)
            return
        except self._settings.transient as exc:
            raise DependencyDown(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            if len(events) > 1:
                log.warning("batch_failed_isolating", group=group, size=len(events), error=str(exc))
            else:
                self._retry_one(events[0], first_error=exc)
                return
        # One bad event must not hold back the others: go one by one.
        for inbound in events:
            try:
                with context.bound(inbound.trace):
                    rejected = self._handler.handle([inbound])
                self._settle([inbound], rejected)
            except self._settings.transient as exc:
                raise DependencyDown(f"{type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                self._retry_one(inbound, first_error=exc)

    def _retry_one(self, inbound: InboundEvent, first_error: Exception) -> None:
        group = self._settings.group_id
        if isinstance(first_error, RejectEvent):
            self._dead_letter_event(inbound, first_error.reason, first_error.message)
            return
        retrying = Retrying(
            stop=stop_after_attempt(self._settings.retry_attempts),
            wait=wait_exponential(multiplier=self._settings.retry_backoff, max=5),
            retry=retry_if_not_exception_type((RejectEvent, *self._settings.transient)),
            reraise=True,
        )
        try:
            rejected: Sequence[Rejected] | None = None
            for attempt in retrying:
                with attempt, context.bound(inbound.trace):
                    rejected = self._handler.handle([inbound])
            self._settle([inbound], rejected)
        except RejectEvent as exc:
            self._dead_letter_event(inbound, exc.reason, exc.message)
        except self._settings.transient as exc:
            raise DependencyDown(f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            log.exception("event_failed", group=group, event_id=inbound.event.event_id)
            self._dead_letter_event(inbound, "processing_failed", f"{type(exc).__name__}: {exc}")

    def _settle(self, events: Sequence[InboundEvent], rejected: Sequence[Rejected] | None) -> None:
        refused = {id(r.inbound) for r in rejected or ()}
        for item in rejected or ():
            self._dead_letter_event(item.inbound, item.reason, item.message)
        for inbound in events:
            if id(inbound) not in refused:
                EVENTS_CONSUMED.labels(self._settings.group_id, inbound.topic, "processed").inc()

    # -- dead letters ---------------------------------------------------------------------------

    def _dead_letter_event(self, inbound: InboundEvent, reason: str, detail: str) -> None:
        if inbound.record is not None:
            self._dead_letter(inbound.record, reason, detail)
            return
        self._produce_dead_letter(
            topic=inbound.topic,
            partition=inbound.partition,
            offset=inbound.offset,
            key=inbound.key.encode() if inbound.key else None,
            value=json.dumps(inbound.raw).encode(),
            headers=[(name, value.encode()) for name, value in inbound.headers.items()],
            reason=reason,
            detail=detail,
        )

    def _dead_letter(self, message: Message, reason: str, detail: str) -> None:
        topic, partition, offset = _coordinates(message)
        self._produce_dead_letter(
            topic=topic,
            partition=partition,
            offset=offset,
            key=message.key(),
            value=message.value(),
            headers=raw_headers(message.headers()),
            reason=reason,
            detail=detail,
        )

    def _produce_dead_letter(
        self,
        *,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes | None]],
        reason: str,
        detail: str,
    ) -> None:
        group = self._settings.group_id
        ours = dead_letter_headers(
            reason=reason,
            detail=detail,
            topic=topic,
            group=group,
            failed_at=datetime.now(UTC),
            partition=partition,
            offset=offset,
        )
        if value is not None and len(value) > MAX_DEAD_LETTER_VALUE_BYTES:
            ours["dlq-truncated-from"] = str(len(value))
            value = value[:MAX_DEAD_LETTER_VALUE_BYTES]
        original = [(name, content) for name, content in headers if name not in ours]
        if len(original) > MAX_DEAD_LETTER_HEADERS:
            ours["dlq-headers-dropped"] = str(len(original) - MAX_DEAD_LETTER_HEADERS)
        own: list[tuple[str, str | bytes | None]] = [(k, v.encode()) for k, v in ours.items()]
        kept: list[tuple[str, str | bytes | None]] = [
            (
                _cut(name, MAX_DEAD_LETTER_HEADER_NAME_BYTES),
                content[:MAX_DEAD_LETTER_HEADER_BYTES] if content is not None else None,
            )
            for name, content in original[:MAX_DEAD_LETTER_HEADERS]
        ]
        dead_topic = f"{topic}.dlq"
        key = key[:MAX_DEAD_LETTER_KEY_BYTES] if key is not None else None
        try:
            self._dlq.produce(
                dead_topic,
                key=key,
                value=value,
                headers=kept + own,
                on_delivery=self._dead_letter_delivered,
            )
        except KafkaException as exc:
            # Refused before it left (too large for this producer's settings, say): the reason
            # and the coordinates still go, so the record can be found on its own topic.
            log.error("dead_letter_stubbed", topic=topic, offset=offset, error=str(exc))
            self._dlq.produce(
                dead_topic,
                key=key,
                value=None,
                headers=[*own, ("dlq-stub", f"the record did not fit: {exc}"[:500].encode())],
                on_delivery=self._dead_letter_delivered,
            )
        self._dlq.poll(0)
        log.warning(
            "event_dead_lettered",
            group=group,
            topic=topic,
            partition=partition,
            offset=offset,
            reason=reason,
            detail=detail[:500],
        )
        EVENTS_CONSUMED.labels(group, topic, "dead_lettered").inc()

    def _dead_letter_delivered(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self._dead_letters_refused.append(str(error))

    def _record_lag(self, consumer: Consumer) -> None:
        try:
            assignment = consumer.assignment()
            if not assignment:
                return
            committed = consumer.committed(assignment, timeout=2)
            for tp in committed:
                _low, high = consumer.get_watermark_offsets(tp, timeout=2, cached=False)
                position = tp.offset if tp.offset >= 0 else _low
                CONSUMER_LAG.labels(self._settings.group_id, tp.topic, str(tp.partition)).set(
                    max(0, high - position)
                )
        except Exception as exc:  # lag is best effort; never stop consuming for it
            log.debug("lag_unavailable", error=str(exc))


def _coordinates(message: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a record that was delivered (never None then)."""
    return str(message.topic()), int(message.partition() or 0), int(message.offset() or 0)


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8 (never inside a character)."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def raw_headers(raw: Any) -> list[tuple[str, bytes | None]]:
    """A record's headers as they came: every one, in order, repeated names and all, values as
    bytes (or None)."""
    return [
        (str(name), value.encode() if isinstance(value, str) else value)
        for name, value in raw or []
    ]


def decode_headers(raw: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw or []:
        if value is not None:
            headers[name] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return headers


def group_member(
    kafka: Mapping[str, Any],
    group_id: str,
    topics: Sequence[str],
    handler: EventHandler,
    dead_letters: MessageProducer,
    schemas: EventSchemas,
    batch_size: int = 500,
    poll_timeout: float = 0.5,
) -> ConsumerRunner:
    """A member of ``group_id`` on ``topics``, with the service's ``kafka`` settings."""
    return ConsumerRunner(
        consumer_factory=lambda: Consumer(consumer_config(kafka, group_id)),
        dead_letter_producer=dead_letters,
        handler=handler,
        schemas=schemas,
        settings=ConsumerSettings(
            group_id=group_id,
            topics=list(topics),
            batch_size=batch_size,
            poll_timeout=poll_timeout,
        ),
    )
