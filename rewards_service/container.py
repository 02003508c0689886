"""The rewards service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dependency_injector import containers, providers

from rewards_service.adapters.cache import RedisPointsCache
from rewards_service.adapters.messaging import JsonSchemaEventContracts, KafkaPartnerEventPublisher
from rewards_service.adapters.persistence.credit_notes import SqlAlchemyCreditNotes
from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
from rewards_service.adapters.wallet import GrpcWalletGateway
from rewards_service.application.earning import (
    ConfirmationReplay,
    EarningRuleService,
    EarningService,
    ParkedEventsService,
    PartnerEventIngestion,
    PointsService,
)
from rewards_service.application.services import (
    ClaimService,
    CreditReconciliation,
    PromotionService,
    WelcomeService,
)
from shared.config import load_settings
from shared.container import CoreContainer
from shared.security.client_credentials import ClientCredentialsTokens
from shared.security.jwks import JwksKeyResolver

CONFIG_DIR = Path(__file__).parent / "config"


class Container(containers.DeclarativeContainer):
    # The HTTP controllers only: wiring a package imports every module in it, and the Kafka
    # consumers' module would register the worker's gauges in the web processes (always 0 there).
    wiring_config = containers.WiringConfiguration(
        modules=["rewards_service.controllers.earning", "rewards_service.controllers.promotions"]
    )

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

    promotion_service = providers.Factory(
        PromotionService, uow=uow.provider, clock=core.clock, inactive_users=core.inactive_users
    )
    credit_notes = providers.Singleton(SqlAlchemyCreditNotes, core.database)
    claim_service = providers.Factory(
        ClaimService, uow=uow.provider, wallet=wallet, clock=core.clock, notes=credit_notes
    )
    welcome_service = providers.Factory(WelcomeService, uow=uow.provider, clock=core.clock)
    credit_reconciliation = providers.Factory(
        CreditReconciliation,
        uow=uow.provider,
        wallet=wallet,
        clock=core.clock,
        grace=providers.Factory(
            timedelta, seconds=config.wallet.reconcile_after_seconds.as_float()
        ),
    )

    # How far ahead of our clock an event may be dated; a new rule version is at least as far.
    max_ahead = providers.Factory(timedelta, seconds=config.earning.max_ahead_seconds.as_float())
    points_cache = providers.Singleton(
        RedisPointsCache,
        redis=core.redis,
        ttl_seconds=config.earning.points_cache_seconds.as_float(),
    )
    earning_service = providers.Factory(
        EarningService,
        uow=uow.provider,
        clock=core.clock,
        cache=points_cache,
        group_id=config.consumers.reward_events.group_id,
    )
    confirmation_replay = providers.Factory(ConfirmationReplay, uow=uow.provider, clock=core.clock)
    parked_events_service = providers.Factory(
        ParkedEventsService,
        uow=uow.provider,
        clock=core.clock,
        wait=providers.Factory(timedelta, seconds=config.earning.park_wait_seconds.as_float()),
        reversal_wait=providers.Factory(
            timedelta, seconds=config.earning.pending_reversal_wait_seconds.as_float()
        ),
        group_id=config.consumers.reward_events.group_id,
        batch_size=config.earning.park_batch_size.as_int(),
    )
    earning_rule_service = providers.Factory(
        EarningRuleService, uow=uow.provider, clock=core.clock, lead=max_ahead
    )
    points_service = providers.Factory(
        PointsService, uow=uow.provider, clock=core.clock, cache=points_cache
    )
    partner_event_publisher = providers.Singleton(
        KafkaPartnerEventPublisher,
        producer=core.producer,
        timeout_seconds=config.earning.ingest_ack_timeout_seconds.as_float(),
    )
    partner_event_ingestion = providers.Factory(
        PartnerEventIngestion,
        clock=core.clock,
        contracts=providers.Singleton(JsonSchemaEventContracts, core.schemas),
        publisher=partner_event_publisher,
        max_ahead=max_ahead,
        uow=uow.provider,
    )


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
