"""The rewards worker: outbox relay and consumers (``python -m rewards_service.worker``)."""

from __future__ import annotations

import gc
from typing import Any

from confluent_kafka import Consumer

from rewards_service.container import Container, build_container
from rewards_service.controllers.consumers import (
    CreditReconciliationTask,
    ParkedEventsSweep,
    PartnerEvents,
    PlayerRegistrations,
)
from shared.application.events import Topic
from shared.messaging.account_status import AccountStatusChanges
from shared.messaging.consumer import ConsumerRunner, ConsumerSettings, EventHandler
from shared.messaging.kafka import consumer_config, create_producer
from shared.messaging.relay import OutboxRelay
from shared.messaging.worker import Component, Periodic, Worker
from shared.observability.logging import configure_logging_from


def consumer(
    container: Container,
    settings: dict[str, Any],
    group_id: str,
    topic: Topic,
    handler: EventHandler,
    batch_size: int | None = None,
) -> ConsumerRunner:
    kafka = settings["kafka"]
    return ConsumerRunner(
        consumer_factory=lambda: Consumer(consumer_config(kafka, group_id)),
        # Its own producer, so dead letters never wait behind (or fail with) the relay's batch.
        dead_letter_producer=create_producer(kafka),
        handler=handler,
        schemas=container.core.schemas(),
        settings=ConsumerSettings(
            group_id=group_id,
            topics=[topic.value],
            batch_size=batch_size or int(settings["consumers"]["batch_size"]),
        ),
    )


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging_from("rewards-worker", settings)
    worker_settings = settings["worker"]
    groups = settings["consumers"]
    relay = OutboxRelay.for_worker(
        container.core.database(), container.core.producer(), "rewards", worker_settings
    )
    components: list[Component] = [
        relay,
        consumer(
            container,
            settings,
            groups["players"]["group_id"],
            Topic.PLAYERS,
            PlayerRegistrations(container.welcome_service()),
        ),
        consumer(
            container,
            settings,
            groups["user_status"]["group_id"],
            Topic.USER_STATUS,
            AccountStatusChanges(container.core.inactive_users()),
        ),
        consumer(
            container,
            settings,
            groups["reward_events"]["group_id"],
            Topic.REWARD_EVENTS,
            PartnerEvents(
                container.earning_service(), container.core.clock(), container.max_ahead()
            ),
            batch_size=int(groups["reward_events"]["batch_size"]),
        ),
        Periodic(
            "rewards-claim-reconciliation",
            CreditReconciliationTask(container.credit_reconciliation()),
            interval=float(settings["wallet"]["reconcile_every_seconds"]),
        ),
        Periodic(
            "rewards-parked-events",
            ParkedEventsSweep(container.parked_events_service()),
            interval=float(settings["earning"]["park_sweep_seconds"]),
        ),
    ]
    # Batches allocate many short-lived objects: collect the young generation less often, and
    # keep what start-up built out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        Worker(components, metrics_port=int(worker_settings["metrics_port"]) or None).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
