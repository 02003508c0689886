"""The rewards service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
from rewards_service.adapters.wallet import GrpcWalletGateway
from rewards_service.application.services import ClaimService, PromotionService, WelcomeService
from shared.config import load_settings
from shared.container import CoreContainer
from shared.security.client_credentials import ClientCredentialsTokens
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

    # The wallet (redeem_service gRPC) with a client-credentials token for scope wallet.write.
    wallet_tokens = providers.Singleton(
        ClientCredentialsTokens,
        token_url=config.wallet.token_url,
        client_id=config.wallet.client_id,
        client_secret=config.wallet.client_secret,
        scope="wallet.write",
    )
    wallet = providers.Singleton(
        GrpcWalletGateway,
        target=config.wallet.target,
        tokens=wallet_tokens,
        deadline_seconds=config.wallet.deadline_seconds.as_float(),
        attempts=config.wallet.attempts.as_int(),
        total_seconds=config.wallet.total_seconds.as_float(),
        breaker_fail_max=config.wallet.breaker_fail_max.as_int(),
        breaker_reset_seconds=config.wallet.breaker_reset_seconds.as_float(),
        tls=config.wallet.tls.as_(bool),
    )

    promotion_service = providers.Factory(PromotionService, uow=uow.provider, clock=core.clock)
    claim_service = providers.Factory(
        ClaimService, uow=uow.provider, wallet=wallet, clock=core.clock
    )
    welcome_service = providers.Factory(WelcomeService, uow=uow.provider, clock=core.clock)


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
