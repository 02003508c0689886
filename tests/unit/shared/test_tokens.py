"""The framework-free access-token verifier: RS256 only, issuer, audience, expiry, known keys."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from shared.domain.principal import Role
from shared.security.tokens import (
    AccessTokenVerifier,
    AccountInactive,
    TokenExpired,
    TokenMissing,
    TokenRejected,
    TokenRevoked,
    bearer_token,
    principal_from_claims,
)
from tests.support.tokens import (
    AUDIENCE,
    ISSUER,
    SetOfInactiveUsers,
    StaticKeyResolver,
    TestSigner,
)


@pytest.fixture
def verifier(signer: TestSigner) -> AccessTokenVerifier:
    return AccessTokenVerifier(
        StaticKeyResolver(signer),
        ISSUER,
        AUDIENCE,
        inactive_users=SetOfInactiveUsers("gone", "client:leaked"),
    )


def test_a_client_token_becomes_a_client_principal_with_its_scopes(
    signer: TestSigner, verifier: AccessTokenVerifier
) -> None:
    principal = verifier.verify(signer.client_token("rewards-service", "wallet.write other"))
    assert principal.is_client
    assert principal.subject == "rewards-service"
    assert principal.client_id == "rewards-service"
    assert principal.scopes == frozenset({"wallet.write", "other"})


def test_a_user_token_carries_the_role(signer: TestSigner, verifier: AccessTokenVerifier) -> None:
    principal = verifier.verify(signer.user_token("u1", "admin"))
    assert principal.role is Role.ADMIN
    assert not principal.is_client


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "http://evil.test"},
        {"aud": "another-api"},
        {"nbf": 4102444800},  # year 2100
    ],
)
def test_tokens_for_someone_else_are_rejected(
    signer: TestSigner, verifier: AccessTokenVerifier, claims: dict[str, Any]
) -> None:
    with pytest.raises(TokenRejected) as raised:
        verifier.verify(signer.token("rewards-service", scope="wallet.write", claims=claims))
    assert not isinstance(raised.value, TokenExpired)


def test_an_expired_token_is_rejected_as_expired(
    signer: TestSigner, verifier: AccessTokenVerifier
) -> None:
    with pytest.raises(TokenExpired):
        verifier.verify(signer.token("rewards-service", scope="wallet.write", lifetime=-60))


def test_only_rs256_with_a_published_key_is_accepted(
    signer: TestSigner, verifier: AccessTokenVerifier
) -> None:
    forged = jwt.encode(
        {"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": 4102444800, "iat": 0},
        "a-shared-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
        headers={"kid": signer.kid},
    )
    with pytest.raises(TokenRejected):
        verifier.verify(forged)
    other = TestSigner()
    with pytest.raises(TokenRejected):
        verifier.verify(other.client_token())
    # Another key presented under our kid fails the signature check.
    with pytest.raises(TokenRejected):
        verifier.verify(other.token("x", scope="wallet.write", headers={"kid": signer.kid}))
    for garbage in ("not-a-token", "a.b.c", "x" * 9000):
        with pytest.raises(TokenRejected):
            verifier.verify(garbage)


def test_a_missing_token_is_reported_as_missing(verifier: AccessTokenVerifier) -> None:
    with pytest.raises(TokenMissing):
        verifier.verify(None)


def test_inactive_users_and_disabled_clients_are_refused_each_in_their_own_name(
    signer: TestSigner, verifier: AccessTokenVerifier
) -> None:
    with pytest.raises(AccountInactive):
        verifier.verify(signer.user_token("gone"))
    with pytest.raises(AccountInactive):
        verifier.verify(signer.client_token("leaked"))
    # A client named like a deactivated user (or the other way round) is someone else.
    assert verifier.verify(signer.client_token("gone")).is_client
    assert verifier.verify(signer.user_token("leaked")).subject == "leaked"


def test_tokens_issued_before_a_revocation_of_their_account_are_refused(
    signer: TestSigner,
) -> None:
    accounts = SetOfInactiveUsers()
    verifier = AccessTokenVerifier(
        StaticKeyResolver(signer), ISSUER, AUDIENCE, inactive_users=accounts, cache_size=8
    )
    old = signer.token("hotel", scope="rewards.write", claims={"iat": 1_000})
    new = signer.token("hotel", scope="rewards.write", claims={"iat": 1_001})
    assert verifier.verify(old).issued_at == 1_000  # and remembered
    accounts.revoke_tokens("client:hotel", issued_before=1_001, until=3_000)
    with pytest.raises(TokenRevoked) as refused:
        verifier.verify(old)
    assert refused.value.code == "TOKEN_REVOKED"
    assert verifier.verify(new).subject == "hotel"
    # A user named like the client is another account.
    assert verifier.verify(signer.token("hotel", role="player", claims={"iat": 1_000}))


@pytest.mark.parametrize(
    "claims",
    [
        # What PyJWT's int() lets through but our tokens never carry. Without a numeric iat
        # the token would have no issue time, and no revocation by time would refuse it.
        {"iat": "1000"},
        {"iat": True},
        {"exp": "4102444800"},  # year 2100
        {"nbf": "1000"},
        {"nbf": False},
        {"type": "refresh"},
    ],
)
def test_times_that_are_not_numbers_and_refresh_tokens_are_rejected(
    signer: TestSigner, verifier: AccessTokenVerifier, claims: dict[str, Any]
) -> None:
    token = signer.token("hotel", scope="rewards.write", claims=claims)
    with pytest.raises(TokenRejected) as raised:
        verifier.verify(token)
    assert type(raised.value) is TokenRejected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


def test_a_verified_token_may_be_kept_for_a_while_but_never_past_its_expiry(
    signer: TestSigner,
) -> None:
    keys = StaticKeyResolver(signer)
    inactive = SetOfInactiveUsers()
    verifier = AccessTokenVerifier(
        keys, ISSUER, AUDIENCE, inactive_users=inactive, cache_size=2, cache_seconds=60
    )
    token = signer.client_token()
    assert verifier.verify(token) == verifier.verify(token)
    assert len(keys.asked) == 1  # the signature was checked once
    user = signer.user_token("u1")
    verifier.verify(user)
    inactive.mark("u1", inactive=True)
    with pytest.raises(AccountInactive):  # the account status is never cached
        verifier.verify(user)
    short_lived = signer.token("svc", scope="wallet.write", lifetime=-1)
    for _ in range(2):  # expired (within the leeway) tokens are verified, never served cached
        verifier.verify(short_lived)
    assert keys.asked.count(signer.kid) == 4
    verifier.verify(signer.client_token("other"))
    verifier.verify(token)  # evicted by the newer entries: checked again
    assert keys.asked.count(signer.kid) == 6


def test_a_client_token_names_the_event_sources_it_may_send() -> None:
    base = {"sub": "hotel", "client_id": "hotel", "scope": "rewards.write"}
    hotel = principal_from_claims({**base, "event_sources": ["HOTEL"]})
    assert hotel.may_send_events_of("HOTEL")
    assert not hotel.may_send_events_of("CASINO")
    assert principal_from_claims(base).may_send_events_of("CASINO")  # the token names no limit
    for garbage in ["HOTEL", {"HOTEL": True}, [1, None]]:
        limited = principal_from_claims({**base, "event_sources": garbage})
        assert not limited.may_send_events_of("HOTEL")
