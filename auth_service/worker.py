"""The identity service's worker (``python -m auth_service.worker``): publishes its outbox and
reads its own ``user-status`` events back, in case the web could not apply one to Redis."""

from __future__ import annotations

from auth_service.container import Container, build_container
from auth_service.controllers.consumers import OwnUserStatus
from shared.application.events import Topic
from shared.messaging.consumer import group_member
from shared.messaging.kafka import create_producer
from shared.messaging.relay import OutboxRelay
from shared.messaging.worker import Component, Worker
from shared.observability.logging import configure_logging_from


def components(container: Container) -> list[Component]:
    """The relay, and the consumer that applies again what the web applied to Redis."""
    settings = container.config()
    worker = settings["worker"]
    user_status = worker["consumers"]["user_status"]
    core = container.core
    relay = OutboxRelay.for_worker(core.database(), core.producer(), "auth", worker)
    revocations = group_member(
        settings["kafka"],
        str(user_status["group"]),
        [Topic.USER_STATUS.value],
        OwnUserStatus(container.own_account_events()),
        # Its own producer, so dead letters never wait behind (or fail with) the relay's batch.
        create_producer(settings["kafka"]),
        core.schemas(),
        batch_size=int(user_status["batch_size"]),
        poll_timeout=float(user_status["poll_timeout_seconds"]),
    )
    return [relay, revocations]


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging_from("auth-worker", settings)
    worker_settings = settings["worker"]
    try:
        Worker(
            components(container), metrics_port=int(worker_settings["metrics_port"]) or None
        ).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
