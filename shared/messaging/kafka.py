"""confluent-kafka clients built from the ``kafka`` settings section, and topic creation."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

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


def create_producer(settings: Mapping[str, Any]) -> Producer:
    return Producer(producer_config(settings))


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
