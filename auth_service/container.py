"""The identity service's composition root: configuration is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dependency_injector import containers, providers

from auth_service.adapters.crypto import (
    Argon2PasswordHasher,
    JwtAccessTokenIssuer,
    KeyEncryption,
    RsaSigningKeyFactory,
    Sha256SecretHasher,
)
from auth_service.adapters.persistence.unit_of_work import SqlAlchemyAuthUnitOfWork
from auth_service.adapters.redis_store import (
    RedisLoginThrottle,
    RedisPasswordResetCodes,
    RedisRefreshTokenStore,
    RedisRevokedTokens,
)
from auth_service.application.services import (
    AccountService,
    ClientService,
    ClientTokenService,
    KeyService,
    OwnAccountEvents,
    SessionService,
)
from shared.application.cache import ExpiringCache
from shared.config import load_settings
from shared.container import CoreContainer

CONFIG_DIR = Path(__file__).parent / "config"


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["auth_service.controllers"])

    config = providers.Configuration()
    core = providers.Container(CoreContainer, config=config)

    uow = providers.Factory(SqlAlchemyAuthUnitOfWork, engine=core.database, schemas=core.schemas)

    password_hasher = providers.Singleton(
        Argon2PasswordHasher,
        time_cost=config.password_hashing.time_cost.as_int(),
        memory_cost_kib=config.password_hashing.memory_cost_kib.as_int(),
        parallelism=config.password_hashing.parallelism.as_int(),
    )
    secret_hasher = providers.Singleton(
        Sha256SecretHasher, pepper=config.security.client_secret_pepper
    )
    key_encryption = providers.Singleton(
        KeyEncryption,
        secret=config.security.key_encryption_secret,
        previous=config.security.previous_key_encryption_secret,
    )
    key_factory = providers.Singleton(RsaSigningKeyFactory, encryption=key_encryption)
    token_issuer = providers.Singleton(
        JwtAccessTokenIssuer,
        uow_factory=uow.provider,
        encryption=key_encryption,
        issuer=config.security.issuer,
        audience=config.security.audience,
        clock=core.clock,
        cache_seconds=config.security.key_cache_seconds.as_float(),
    )
    refresh_tokens = providers.Singleton(
        RedisRefreshTokenStore,
        redis=core.redis,
        ttl_seconds=config.security.refresh_token_ttl_seconds.as_int(),
    )
    login_throttle = providers.Singleton(
        RedisLoginThrottle,
        redis=core.redis,
        max_per_account=config.login.max_failures_per_account.as_int(),
        max_per_address=config.login.max_failures_per_address.as_int(),
        window_seconds=config.login.window_seconds.as_int(),
        lockout_seconds=config.login.lockout_seconds.as_int(),
    )
    revoked_tokens = providers.Singleton(RedisRevokedTokens, redis=core.redis)
    reset_codes = providers.Singleton(
        RedisPasswordResetCodes,
        redis=core.redis,
        ttl_seconds=config.password_reset.code_ttl_seconds.as_int(),
    )

    account_service = providers.Factory(
        AccountService,
        uow=uow.provider,
        hasher=password_hasher,
        refresh_tokens=refresh_tokens,
        inactive_users=core.inactive_users,
        clock=core.clock,
        reset_codes=reset_codes,
        reset_code_ttl_seconds=config.password_reset.code_ttl_seconds.as_int(),
        throttle=login_throttle,
    )
    session_service = providers.Factory(
        SessionService,
        uow=uow.provider,
        hasher=password_hasher,
        tokens=token_issuer,
        refresh_tokens=refresh_tokens,
        throttle=login_throttle,
        access_lifetime_seconds=config.security.access_token_ttl_seconds.as_int(),
        clock=core.clock,
        inactive_users=core.inactive_users,
        reset_codes=reset_codes,
    )
    client_lookups: providers.Singleton[ExpiringCache[str, Any]] = providers.Singleton(
        ExpiringCache, ttl_seconds=config.security.client_cache_seconds.as_float()
    )
    client_service = providers.Factory(
        ClientService,
        uow=uow.provider,
        hasher=secret_hasher,
        clock=core.clock,
        lookups=client_lookups,
        inactive_users=core.inactive_users,
        token_lifetime_seconds=config.security.access_token_ttl_seconds.as_int(),
    )
    own_account_events = providers.Factory(
        OwnAccountEvents, uow=uow.provider, accounts=core.inactive_users
    )
    key_service = providers.Factory(
        KeyService,
        uow=uow.provider,
        factory=key_factory,
        tokens=token_issuer,
        token_lifetime_seconds=config.security.access_token_ttl_seconds.as_int(),
        clock=core.clock,
    )
    client_token_service = providers.Factory(
        ClientTokenService,
        tokens=token_issuer,
        revoked=revoked_tokens,
        lifetime_seconds=config.security.access_token_ttl_seconds.as_int(),
        clock=core.clock,
        inactive_users=core.inactive_users,
    )


def build_container(overrides: dict[str, object] | None = None) -> Container:
    """The container with settings for the active profile (``overrides`` merged last)."""
    container = Container()
    container.config.from_dict(load_settings(CONFIG_DIR, extra=overrides))
    return container
