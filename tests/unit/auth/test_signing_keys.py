"""Signing keys and the secret that encrypts them: a rotation made with another secret is
refused, and a key this process cannot decrypt stops the signing only, not the key set."""

from __future__ import annotations

import jwt
import pytest

from auth_service.adapters.crypto import JwtAccessTokenIssuer, KeyEncryption, RsaSigningKeyFactory
from auth_service.application.services import KeyService
from auth_service.domain.exceptions import SigningKeyUnreadable
from auth_service.domain.model import KeyStatus
from shared.domain.clock import SystemClock
from tests.unit.auth.fakes import FakeUnitOfWork

PLATFORM_SECRET = "the-platform-secret"
OTHER_SECRET = "dev-only-key-encryption-secret"
# Tokens are verified against the real time.
CLOCK = SystemClock()


def issuer(uow: FakeUnitOfWork, encryption: KeyEncryption) -> JwtAccessTokenIssuer:
    return JwtAccessTokenIssuer(uow, encryption, "http://auth.test", "loyalty-api", CLOCK, 0)


def key_service(uow: FakeUnitOfWork, secret: str, previous: str | None = None) -> KeyService:
    encryption = KeyEncryption(secret, previous)
    return KeyService(uow, RsaSigningKeyFactory(encryption), issuer(uow, encryption), 900, CLOCK)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def test_a_rotation_with_another_secret_is_refused_and_writes_nothing(uow) -> None:
    platform = key_service(uow, PLATFORM_SECRET)
    platform.ensure_active()
    before = dict(uow.signing_keys.rows)
    (active,) = before.values()

    with pytest.raises(SigningKeyUnreadable) as refused:
        key_service(uow, OTHER_SECRET).rotate()

    assert refused.value.kid == active.kid
    assert active.kid in refused.value.message
    assert uow.signing_keys.rows == before


def test_a_rotation_with_the_platforms_secret_retires_the_active_key(uow) -> None:
    platform = key_service(uow, PLATFORM_SECRET)
    platform.ensure_active()
    (first,) = uow.signing_keys.rows.values()
    new = platform.rotate()
    assert uow.signing_keys.rows[first.kid].status is KeyStatus.RETIRING
    assert uow.signing_keys.rows[new.kid].status is KeyStatus.ACTIVE


def test_an_unreadable_active_key_is_replaced_only_when_asked(uow) -> None:
    key_service(uow, OTHER_SECRET).ensure_active()
    (bad,) = uow.signing_keys.rows.values()
    platform = key_service(uow, PLATFORM_SECRET)
    with pytest.raises(SigningKeyUnreadable):
        platform.rotate()
    new = platform.rotate(replace_unreadable=True)
    assert uow.signing_keys.rows[bad.kid].status is KeyStatus.RETIRING
    tokens = issuer(uow, KeyEncryption(PLATFORM_SECRET))
    assert jwt.get_unverified_header(tokens.issue("p1", {}, 60).token)["kid"] == new.kid


def test_an_unreadable_active_key_stops_signing_but_not_publishing_or_verifying(uow) -> None:
    platform = key_service(uow, PLATFORM_SECRET)
    platform.ensure_active()
    tokens = issuer(uow, KeyEncryption(PLATFORM_SECRET))
    earlier = tokens.issue("p1", {"role": "player"}, 60).token
    bad = key_service(uow, OTHER_SECRET).rotate(replace_unreadable=True)

    with pytest.raises(SigningKeyUnreadable) as refused:
        tokens.issue("p1", {"role": "player"}, 60)
    assert refused.value.kid == bad.kid
    assert {k.kid for k in tokens.published()} == set(uow.signing_keys.rows)
    assert tokens.public_key(bad.kid) is not None
    assert tokens.decode(earlier) is not None


def test_keys_of_the_previous_secret_are_read_while_the_secret_changes(uow) -> None:
    old = key_service(uow, PLATFORM_SECRET)
    old.ensure_active()
    changed = key_service(uow, "the-new-secret", previous=PLATFORM_SECRET)
    # The active key, made with the old secret, still signs in a task given the new one.
    signed = issuer(uow, KeyEncryption("the-new-secret", PLATFORM_SECRET)).issue("p1", {}, 60)
    assert signed.token
    new = changed.rotate()
    # The key made with the new secret: read with it, not with the old secret alone.
    assert issuer(uow, KeyEncryption("the-new-secret")).issue("p1", {}, 60).token
    with pytest.raises(SigningKeyUnreadable):
        issuer(uow, KeyEncryption(PLATFORM_SECRET)).issue("p1", {}, 60)
    assert uow.signing_keys.rows[new.kid].status is KeyStatus.ACTIVE
