"""The wallet service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from redeem_service.adapters.persistence.intake import SqlAlchemyRedemptionIntake
from redeem_service.adapters.persistence.ledger import SqlAlchemyLedger
from redeem_service.adapters.persistence.unit_of_work import SqlAlchemyRedeemUnitOfWork
from redeem_service.application.points import PointsService
from redeem_service.application.redemptions import RedemptionDecisions, RedemptionService
from redeem_service.application.services import PlayerDirectory, WalletService
from shared.config import load_settings
from shared.container import CoreContainer
from shared.security.jwks import JwksKeyResolver
from shared.security.tokens import AccessTokenVerifier

CONFIG_DIR = Path(__file__).parent / "config"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["redeem_service.controllers"])

    config = providers.Configuration()
    core = providers.Container(CoreContainer, config=config)

    uow = providers.Factory(
        SqlAlchemyRedeemUnitOfWork,
        engine=core.database,
        schemas=core.schemas,
        statement_timeout_ms=config.database.statement_timeout_ms.as_int(),
    )
    ledger = providers.Factory(
        SqlAlchemyLedger,
        engine=core.database,
        statement_timeout_ms=config.database.statement_timeout_ms.as_int(),
    )
    player_directory = providers.Factory(PlayerDirectory, uow=uow.provider)
    wallet_service = providers.Factory(
        WalletService, uow=uow.provider, ledger=ledger, clock=core.clock
    )
    points_service = providers.Factory(PointsService, uow=uow.provider, clock=core.clock)
    redemption_intake = providers.Factory(
        SqlAlchemyRedemptionIntake,
        engine=core.database,
        schemas=core.schemas,
        statement_timeout_ms=config.database.statement_timeout_ms.as_int(),
    )
    redemption_service = providers.Factory(
        RedemptionService, uow=uow.provider, intake=redemption_intake, clock=core.clock
    )
    redemption_decisions = providers.Factory(
        RedemptionDecisions,
        uow=uow.provider,
        clock=core.clock,
        inactive_users=core.inactive_users,
    )

    key_resolver = providers.Singleton(
        JwksKeyResolver,
        jwks_url=config.security.jwks_url,
        cache_ttl=config.security.jwks_cache_seconds.as_float(),
        refetch_cooldown=config.security.jwks_refetch_cooldown_seconds.as_float(),
    )
    token_verifier = providers.Singleton(
        AccessTokenVerifier,
        key_resolver=key_resolver,
        issuer=config.security.issuer,
        audience=config.security.audience,
        inactive_users=core.inactive_users,
        cache_size=config.security.token_cache_size.as_int(),
        cache_seconds=config.security.token_cache_seconds.as_float(),
    )


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
