"""The rewards service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
from rewards_service.application.services import PromotionService, WelcomeService
from shared.config import load_settings
from shared.container import CoreContainer
from shared.security.jwks import JwksKeyResolver

CONFIG_DIR = Path(__file__).parent / "config"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["rewards_service.controllers"])

    config = providers.Configuration()
    core = providers.Container(CoreContainer, config=config)

    uow = providers.Factory(SqlAlchemyRewardsUnitOfWork, engine=core.database, schemas=core.schemas)

    # Access tokens are verified locally against auth_service's published keys.
    key_resolver = providers.Singleton(
        JwksKeyResolver,
        jwks_url=config.security.jwks_url,
        cache_ttl=config.security.jwks_cache_seconds.as_float(),
        refetch_cooldown=config.security.jwks_refetch_cooldown_seconds.as_float(),
    )

    promotion_service = providers.Factory(PromotionService, uow=uow.provider, clock=core.clock)
    welcome_service = providers.Factory(WelcomeService, uow=uow.provider, clock=core.clock)


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
