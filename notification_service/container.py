"""The notification service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from notification_service.adapters.mongo import MongoNotificationRepository, mongo_connection
from notification_service.adapters.redis_live import RedisLiveChannel, RedisLiveSubscriber
from notification_service.adapters.redis_pool import blocking_redis_resource
from notification_service.application.live import LiveSessions, SessionPolicy
from notification_service.application.services import (
    AccountStatusService,
    NotificationIngestion,
    NotificationService,
)
from shared.config import load_settings
from shared.container import CoreContainer
from shared.security.jwks import JwksKeyResolver

CONFIG_DIR = Path(__file__).parent / "config"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["notification_service.controllers"])

    config = providers.Configuration()
    # The shared providers, with a Redis client whose pool suits a gevent process.
    redis = providers.Resource(
        blocking_redis_resource,
        config.redis.url,
        max_connections=config.redis.max_connections.as_int(),
        wait_seconds=config.redis.pool_wait_seconds.as_float(),
    )
    core = providers.Container(CoreContainer, config=config, redis=redis)

    mongo = providers.Resource(mongo_connection, config.mongodb)
    notifications = providers.Singleton(
        MongoNotificationRepository, database=mongo, clock=core.clock
    )
    live_channel = providers.Singleton(
        RedisLiveChannel, redis=core.redis, channel=config.live.channel
    )
    key_resolver = providers.Singleton(
        JwksKeyResolver,
        jwks_url=config.security.jwks_url,
        cache_ttl=config.security.jwks_cache_seconds.as_float(),
    )

    # One per web process: the sockets open here, fed by one subscription.
    live_sessions = providers.Singleton(
        LiveSessions,
        max_per_user=config.live.max_sockets_per_user.as_int(),
        queue_size=config.live.send_queue_size.as_int(),
    )
    live_subscriber = providers.Singleton(
        RedisLiveSubscriber,
        redis=core.redis,
        channel=config.live.channel,
        on_message=live_sessions.provided.dispatch,
    )
    session_policy = providers.Singleton(
        SessionPolicy,
        idle_seconds=config.live.idle_wakeup_seconds.as_float(),
        recheck_seconds=config.live.account_recheck_seconds.as_float(),
        write_timeout_seconds=config.live.write_timeout_seconds.as_float(),
    )

    notification_service = providers.Factory(
        NotificationService, repository=notifications, clock=core.clock
    )
    ingestion = providers.Factory(
        NotificationIngestion, repository=notifications, live=live_channel
    )
    account_status = providers.Factory(
        AccountStatusService, inactive_users=core.inactive_users, live=live_channel
    )


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
