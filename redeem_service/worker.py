"""The wallet service's worker (``python -m redeem_service.worker``): publishes its outbox,
credits points from ``reward-confirmed``, decides redemptions from ``redeem-events``, learns
registered players from ``players`` and follows ``user-status`` to refuse deactivated
accounts. Each consumer has its own group, so a backlog of one never delays another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redeem_service.container import Container, build_container
from redeem_service.controllers.consumers import (
    PlayerRegisteredHandler,
    RedeemRequestedHandler,
    RewardConfirmedHandler,
)
from shared.application.events import Topic
from shared.messaging.account_status import AccountStatusChanges
from shared.messaging.consumer import ConsumerRunner, EventHandler, group_member
from shared.messaging.kafka import create_producer
from shared.messaging.relay import OutboxRelay
from shared.messaging.worker import Component, Worker
from shared.observability.logging import configure_logging_from


def consumer_runner(
    container: Container, topic: Topic, handler: EventHandler, settings: Mapping[str, Any]
) -> ConsumerRunner:
    """A consumer group member for ``topic`` with its ``worker.consumers.<name>`` settings."""
    return group_member(
        container.config()["kafka"],
        str(settings["group"]),
        [topic.value],
        handler,
        # Its own producer, so dead letters never wait behind (or fail with) the relay's batch.
        create_producer(container.config()["kafka"]),
        container.core.schemas(),
        batch_size=int(settings.get("batch_size", 500)),
        poll_timeout=float(settings.get("poll_timeout_seconds", 0.5)),
    )


def components(container: Container) -> list[Component]:
    """The relay and the four consumers."""
    worker = container.config()["worker"]
    consumers = worker["consumers"]
    core = container.core
    relay = OutboxRelay.for_worker(core.database(), core.producer(), "redeem", worker)
    return [
        relay,
        consumer_runner(
            container,
            Topic.PLAYERS,
            PlayerRegisteredHandler(container.player_directory()),
            consumers["players"],
        ),
        consumer_runner(
            container,
            Topic.USER_STATUS,
            AccountStatusChanges(core.inactive_users()),
            consumers["user_status"],
        ),
        consumer_runner(
            container,
            Topic.REWARD_CONFIRMED,
            RewardConfirmedHandler(container.points_service()),
            consumers["reward_confirmed"],
        ),
        consumer_runner(
            container,
            Topic.REDEEM_EVENTS,
            RedeemRequestedHandler(container.redemption_decisions()),
            consumers["redeem_events"],
        ),
    ]


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging_from("redeem-worker", settings)
    try:
        Worker(
            components(container), metrics_port=int(settings["worker"]["metrics_port"]) or None
        ).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
