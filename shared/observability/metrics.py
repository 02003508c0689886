"""Prometheus metrics shared by every process: HTTP, consumers, outbox, circuit breakers.

Under gunicorn the metrics are aggregated across worker processes through
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

from shared.addresses import bare_host

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests handled.",
    ["service", "method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_CONSUMED = Counter(
    "kafka_events_consumed_total",
    "Kafka records consumed, by outcome (processed, duplicate, dead_lettered).",
    ["group", "topic", "outcome"],
)
CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records between the committed offset and the high watermark, per partition.",
    ["group", "topic", "partition"],
    multiprocess_mode="max",
)
OUTBOX_BACKLOG = Gauge(
    "outbox_backlog",
    "Outbox rows not yet published.",
    ["service"],
    multiprocess_mode="max",
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total",
    "Outbox rows published to Kafka.",
    ["service"],
)
BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    ["breaker"],
    multiprocess_mode="max",
)


def registry() -> CollectorRegistry:
    """The registry to expose: aggregated over processes when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)  # type: ignore[no-untyped-call]
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


def exposition() -> tuple[bytes, str]:
    """The metrics payload and its content type."""
    return generate_latest(registry()), CONTENT_TYPE_LATEST


def serve_metrics(port: int) -> None:
    """Expose ``/metrics`` of a process without a web server (workers, the gRPC server) on
    ``port``, on every interface unless ``LISTEN_HOST`` narrows it, as for the web (the
    one-machine platform keeps both on 127.0.0.1; in a cluster the scraper is another host)."""
    start_http_server(port, addr=bare_host(os.environ.get("LISTEN_HOST") or "0.0.0.0"))  # noqa: S104
