"""The notification service's worker: consumes the notification topics and ``user-status``
(``python -m notification_service.worker``). confluent-kafka runs here, never in the gevent web
process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from notification_service.adapters.mongo import ensure_indexes, verify_indexes
from notification_service.container import Container, build_container
from notification_service.controllers.consumers import (
    NOTIFICATION_TOPICS,
    NotificationEventsHandler,
    UserStatusHandler,
)
from shared.application.events import Topic
from shared.messaging.consumer import ConsumerRunner, EventHandler, group_member
from shared.messaging.kafka import create_producer
from shared.messaging.worker import Worker
from shared.observability.logging import configure_logging_from


def consumer_runner(
    container: Container, group_id: str, topics: Sequence[str], handler: EventHandler
) -> ConsumerRunner:
    settings: dict[str, Any] = container.config()
    consumer = settings["consumer"]
    return group_member(
        settings["kafka"],
        group_id,
        topics,
        handler,
        # Its own producer: one consumer's dead letters never wait behind another's.
        create_producer(settings["kafka"]),
        container.core.schemas(),
        batch_size=int(consumer["batch_size"]),
        poll_timeout=float(consumer["poll_timeout_seconds"]),
    )


def components(container: Container) -> list[ConsumerRunner]:
    """The worker's consumers: notifications, and account status in its own group so a
    backlog of notifications never delays a deactivation."""
    consumer = container.config.consumer()
    return [
        consumer_runner(
            container, consumer["group_id"], NOTIFICATION_TOPICS, NotificationEventsHandler()
        ),
        consumer_runner(
            container,
            consumer["user_status_group_id"],
            [Topic.USER_STATUS.value],
            UserStatusHandler(),
        ),
    ]


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging_from("notification-worker", settings)
    if settings["mongodb"].get("ensure_indexes_on_start"):
        ensure_indexes(container.mongo())
    verify_indexes(container.mongo())
    try:
        Worker(
            components(container), metrics_port=int(settings["worker"]["metrics_port"]) or None
        ).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
