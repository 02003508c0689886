"""Providers every service needs, declared once; a service includes this container in its own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dependency_injector import containers, providers
from redis import Redis
from sqlalchemy import Engine

from shared.domain.clock import SystemClock
from shared.messaging.kafka import RenewingProducer, create_producer
from shared.messaging.schemas import event_schemas
from shared.persistence.database import create_database_engine
from shared.redis_client import redis_resource
from shared.security.user_status import MirroredInactiveUsers, RedisInactiveUsers


def _engine(settings: dict[str, Any]) -> Iterator[Engine]:
    engine = create_database_engine(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _inactive_users(redis: Redis) -> Iterator[MirroredInactiveUsers]:
    mirror = MirroredInactiveUsers(RedisInactiveUsers(redis))
    try:
        yield mirror
    finally:
        mirror.close()


def _producer(settings: dict[str, Any]) -> Iterator[RenewingProducer]:
    producer = create_producer(settings)
    try:
        yield producer
    finally:
        producer.flush(10)


class CoreContainer(containers.DeclarativeContainer):
    """Process-wide clients (resources shut down cleanly) built from the service's settings."""

    config = providers.Configuration()

    clock = providers.Singleton(SystemClock)
    schemas = providers.Singleton(event_schemas)
    database = providers.Resource(_engine, config.database)
    redis = providers.Resource(redis_resource, config.redis.url)
    producer = providers.Resource(_producer, config.kafka)
    inactive_users = providers.Resource(_inactive_users, redis)
