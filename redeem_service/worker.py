"""The wallet service's worker (``python -m redeem_service.worker``): publishes its outbox and
follows ``user-status`` to refuse deactivated accounts."""

from __future__ import annotations

from confluent_kafka import Consumer

from redeem_service.container import build_container
from redeem_service.controllers.consumers import UserStatusHandler
from shared.application.events import Topic
from shared.messaging.consumer import ConsumerRunner, ConsumerSettings
from shared.messaging.kafka import consumer_config
from shared.messaging.relay import OutboxRelay
from shared.messaging.worker import Worker
from shared.observability.logging import configure_logging


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging("redeem-worker", level=settings["logging"]["level"])
    worker_settings = settings["worker"]
    core = container.core
    relay = OutboxRelay(
        core.database(),
        core.producer(),
        service="redeem",
        batch_size=int(worker_settings["relay_batch_size"]),
        poll_interval=float(worker_settings["relay_poll_seconds"]),
    )
    group = str(worker_settings["user_status_group"])
    user_status = ConsumerRunner(
        consumer_factory=lambda: Consumer(consumer_config(settings["kafka"], group)),
        dead_letter_producer=core.producer(),
        handler=UserStatusHandler(core.inactive_users()),
        schemas=core.schemas(),
        settings=ConsumerSettings(group_id=group, topics=[Topic.USER_STATUS.value]),
    )
    try:
        Worker(
            [relay, user_status], metrics_port=int(worker_settings["metrics_port"]) or None
        ).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
