"""confluent-kafka clients built from the ``kafka`` settings section, and topic creation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from shared.application.events import Topic
from shared.observability.logging import get_logger

log = get_logger(__name__)


SASL_MECHANISMS = frozenset({"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"})


class KafkaSettingsError(ValueError):
    """The ``kafka`` settings cannot make a connection (said at start, not on the first send)."""


def _text(settings: Mapping[str, Any], key: str) -> str:
    value = settings.get(key)
    return "" if value is None else str(value).strip()


def security_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The security part of a client's configuration: the protocol; with ``SASL_SSL`` /
    ``SASL_PLAINTEXT`` the SASL mechanism and credentials (e.g. a managed Kafka with API keys);
    a private CA bundle for TLS when ``ssl_ca_location`` names one. Checked when the settings
    are loaded, so a process with unusable ones stops at start."""
    protocol = (_text(settings, "security_protocol") or "PLAINTEXT").upper()
    config: dict[str, Any] = {"security.protocol": protocol}
    mechanism = _text(settings, "sasl_mechanism").upper()
    if protocol.startswith("SASL_"):
        if mechanism not in SASL_MECHANISMS:
            raise KafkaSettingsError(
                f"kafka.security_protocol {protocol} needs kafka.sasl_mechanism "
                f"(KAFKA_SASL_MECHANISM), one of {', '.join(sorted(SASL_MECHANISMS))}"
            )
        username, password = _text(settings, "sasl_username"), _text(settings, "sasl_password")
        if not username or not password:
            raise KafkaSettingsError(
                f"kafka.security_protocol {protocol} needs kafka.sasl_username and "
                "kafka.sasl_password (KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD)"
            )
        config["sasl.mechanism"] = mechanism
        config["sasl.username"] = username
        config["sasl.password"] = password
    elif mechanism:
        raise KafkaSettingsError(
            f"kafka.sasl_mechanism is set but kafka.security_protocol is {protocol}: "
            "use SASL_SSL (or SASL_PLAINTEXT on a private network)"
        )
    ca_location = _text(settings, "ssl_ca_location")
    if ca_location:
        config["ssl.ca.location"] = ca_location
    return config


def base_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Broker address, client id and the security settings."""
    return {
        "bootstrap.servers": str(settings["bootstrap_servers"]),
        "client.id": str(settings.get("client_id", "loyalty")),
        **security_config(settings),
    }


def producer_config(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Idempotent producer, acks from all in-sync replicas (ARCHITECTURE §3)."""
    producer = settings.get("producer", {})
    return {
        **base_config(settings),
        "enable.idempotence": True,
        "acks": "all",
        # The Java client's hashing of keys (murmur2), which partners' Java and JavaScript
        # producers use: one player's records land on the same partition whoever sends them
        # (librdkafka's own default hashes differently).
        "partitioner": "murmur2_random",
        "linger.ms": int(producer.get("linger_ms", 5)),
        "batch.num.messages": int(producer.get("batch_num_messages", 10000)),
        "compression.type": str(producer.get("compression", "lz4")),
        "message.timeout.ms": int(producer.get("message_timeout_ms", 30000)),
    }


def consumer_config(settings: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    consumer = settings.get("consumer", {})
    return {
        **base_config(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": str(consumer.get("auto_offset_reset", "earliest")),
        "session.timeout.ms": int(consumer.get("session_timeout_ms", 45000)),
        "heartbeat.interval.ms": int(consumer.get("heartbeat_interval_ms", 3000)),
        "fetch.wait.max.ms": int(consumer.get("fetch_wait_max_ms", 500)),
        "max.poll.interval.ms": int(consumer.get("max_poll_interval_ms", 300000)),
        "isolation.level": "read_committed",
    }


DeliveryCallback = Callable[[KafkaError | None, Any], None]


class MessageProducer(Protocol):
    """What the platform asks of a producer (confluent-kafka's ``Producer`` has it)."""

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: DeliveryCallback | None = None,
        on_delivery: DeliveryCallback | None = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None: ...

    def poll(self, timeout: float = -1) -> int: ...

    def flush(self, timeout: float = -1) -> int: ...

    def purge(
        self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True
    ) -> None: ...

    def __len__(self) -> int: ...


#: errors after which an idempotent producer delivers nothing more, whatever is retried
_FATAL_CODES = frozenset({KafkaError._FATAL, KafkaError.PRODUCER_FENCED})


def _is_fatal(error: KafkaError | None) -> bool:
    return error is not None and (error.fatal() or error.code() in _FATAL_CODES)


class RenewingProducer:
    """An idempotent producer that is made again after a fatal error.

    An idempotent producer whose message timed out in flight (a broker that hung) bumps its
    epoch, and a broker may answer by fencing it: from then on librdkafka fails every record
    with a fatal error, for as long as the process lives — partner submissions answered 503
    for good while readiness said UP. The error is seen in ``error_cb``, in a delivery report
    or in a refused ``produce``; the next call then gets a new producer. What the broken one
    still held is purged and reported failed to its callers' delivery callbacks, and counted
    by ``flush`` and ``len`` until it is: never taken for delivered (the relay keeps those
    outbox rows, a submission answers 503).
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        factory: Callable[[dict[str, Any]], MessageProducer] = Producer,
    ) -> None:
        self._config = dict(config)
        self._factory = factory
        self._lock = threading.Lock()
        self._broken: KafkaError | None = None
        self._inner = self._make()
        #: broken producers whose records' failures were not all reported yet
        self._retired: list[MessageProducer] = []

    def _make(self) -> MessageProducer:
        return self._factory({**self._config, "error_cb": self._on_error})

    def _on_error(self, error: KafkaError) -> None:
        if _is_fatal(error):
            self._broken = error

    def _current(self) -> MessageProducer:
        if self._broken is not None:
            with self._lock:
                if self._broken is not None:
                    log.warning("kafka_producer_renewed", error=str(self._broken))
                    broken, self._inner = self._inner, self._make()
                    self._broken = None
                    broken.purge(in_queue=True, in_flight=True, blocking=False)
                    self._retired.append(broken)
        return self._inner

    def _serve_retired(self, timeout: float) -> int:
        """Report the retired producers' failures; how many records they still hold."""
        held = 0
        for retired in list(self._retired):
            left = retired.flush(timeout)
            if left:
                held += left
            else:
                self._retired.remove(retired)
        return held

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: DeliveryCallback | None = None,
        on_delivery: DeliveryCallback | None = None,
        timestamp: int = 0,
        headers: Any = None,
    ) -> None:
        report = on_delivery or callback

        def delivered(error: KafkaError | None, message: Any) -> None:
            if _is_fatal(error):
                self._broken = error
            if report is not None:
                report(error, message)

        try:
            self._current().produce(
                topic,
                value=value,
                key=key,
                partition=partition,
                on_delivery=delivered,
                timestamp=timestamp,
                headers=headers,
            )
        except KafkaException as exc:
            if exc.args and isinstance(exc.args[0], KafkaError) and _is_fatal(exc.args[0]):
                self._broken = exc.args[0]
            raise

    def poll(self, timeout: float = -1) -> int:
        current = self._current()
        if self._retired:
            self._serve_retired(0)
        return current.poll(timeout)

    def flush(self, timeout: float = -1) -> int:
        current = self._current()
        held = self._serve_retired(min(timeout, 5.0) if timeout >= 0 else 5.0)
        return current.flush(timeout) + held

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        self._current().purge(in_queue, in_flight, blocking)

    def __len__(self) -> int:
        return len(self._current()) + sum(len(r) for r in self._retired)


def create_producer(settings: Mapping[str, Any]) -> RenewingProducer:
    return RenewingProducer(producer_config(settings))


def all_topics() -> list[str]:
    """Every topic of the platform and its dead-letter companion."""
    names: list[str] = []
    for topic in Topic:
        names.extend([topic.value, topic.dead_letter])
    return names


def ensure_topics(
    settings: Mapping[str, Any],
    topics: Iterable[str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create missing topics (dev/test; production topics are created by infrastructure)."""
    admin = AdminClient(base_config(settings))
    wanted = list(topics or all_topics())
    partitions = int(settings.get("topic_partitions", 3))
    replication = int(settings.get("replication_factor", 1))
    deadline = time.monotonic() + timeout
    while True:
        try:
            existing = set(admin.list_topics(timeout=5).topics)
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    missing = [
        NewTopic(
            name,
            num_partitions=1 if name.endswith(".dlq") else partitions,
            replication_factor=replication,
        )
        for name in wanted
        if name not in existing
    ]
    if not missing:
        return
    for name, future in admin.create_topics(missing, request_timeout=timeout).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise
        log.info("topic_created", topic=name)


def check_broker(settings: Mapping[str, Any], timeout: float = 2.0) -> None:
    """Readiness probe: the cluster answers a metadata request."""
    AdminClient(base_config(settings)).list_topics(timeout=timeout)
