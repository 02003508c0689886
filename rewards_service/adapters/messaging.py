"""Partner events handed to Kafka, and the event contracts they are checked against."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from rewards_service.application.ports import EventContracts, PartnerEventPublisher
from rewards_service.domain.exceptions import EventBrokerUnavailable
from shared.application.events import Topic
from shared.messaging.kafka import MessageProducer
from shared.messaging.schemas import EventSchemaError, EventSchemas
from shared.observability import context
from shared.observability.logging import get_logger
from shared.persistence.outbox import encode_payload

log = get_logger(__name__)


class JsonSchemaEventContracts(EventContracts):
    def __init__(self, schemas: EventSchemas) -> None:
        self._schemas = schemas

    def problem(self, message: Mapping[str, Any]) -> str | None:
        try:
            self._schemas.validate(message)
        except EventSchemaError as exc:
            return str(exc)
        return None


class KafkaPartnerEventPublisher(PartnerEventPublisher):
    """Produces on ``reward-events`` (key = player id) with the process's idempotent producer
    and waits, up to a deadline, for the broker to acknowledge every record of the call."""

    def __init__(
        self,
        producer: MessageProducer,
        timeout_seconds: float,
        topic: str = Topic.REWARD_EVENTS.value,
    ) -> None:
        self._producer = producer
        self._timeout = timeout_seconds
        self._topic = topic

    def publish(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if not messages:
            return
        outstanding = len(messages)
        failures: list[KafkaError] = []
        lock = threading.Lock()
        acknowledged = threading.Event()

        def on_delivery(error: KafkaError | None, _message: Any) -> None:
            # Served by whichever thread polls the shared producer: count under a lock.
            nonlocal outstanding
            with lock:
                if error is not None:
                    failures.append(error)
                outstanding -= 1
                if outstanding == 0:
                    acknowledged.set()

        trace = context.current()
        try:
            for message in messages:
                headers = {
                    "eventType": str(message["eventType"]),
                    "traceparent": trace.traceparent(),
                }
                if trace.correlation_id:
                    headers["X-Correlation-ID"] = trace.correlation_id
                self._producer.produce(
                    self._topic,
                    key=str(message["user_id"]).encode(),
                    value=encode_payload(message),
                    headers=list(headers.items()),
                    on_delivery=on_delivery,
                )
        except (BufferError, KafkaException) as exc:
            log.warning("partner_events_not_produced", error=str(exc))
            raise EventBrokerUnavailable(_event_ids(messages)) from exc
        deadline = time.monotonic() + self._timeout
        while not acknowledged.is_set():
            if time.monotonic() > deadline:
                log.warning("partner_events_unacknowledged", outstanding=outstanding)
                raise EventBrokerUnavailable(_event_ids(messages))
            self._producer.poll(0.01)
        if failures:
            log.warning("partner_events_refused", error=str(failures[0]), count=len(failures))
            raise EventBrokerUnavailable(_event_ids(messages))


def _event_ids(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(message["eventId"]) for message in messages]
