"""The Flask resource server remembers verified tokens, but never what can change under them."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from flask import Flask

from shared.security.resource_server import (
    authenticated,
    configure_resource_server,
    current_principal,
)
from shared.security.verified_tokens import VerifiedTokenCache
from tests.support.tokens import (
    AUDIENCE,
    ISSUER,
    SetOfInactiveUsers,
    StaticKeyResolver,
    TestSigner,
)


def make_app(
    signer: TestSigner, inactive: SetOfInactiveUsers, cache_size: int = 16
) -> tuple[Flask, StaticKeyResolver]:
    app = Flask(__name__)
    keys = StaticKeyResolver(signer)
    security = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "token_cache_size": cache_size,
        "token_cache_seconds": 60,
    }
    configure_resource_server(app, keys, security, inactive_users=inactive)

    @app.get("/me")
    @authenticated()
    def me() -> dict[str, Any]:
        principal = current_principal()
        return {"subject": principal.subject, "scopes": sorted(principal.scopes)}

    return app, keys


def call(app: Flask, token: str) -> tuple[int, dict[str, Any]]:
    response = app.test_client().get("/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json()


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "  bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(signer: TestSigner, scheme: str) -> None:
    app, _ = make_app(signer, SetOfInactiveUsers())
    token = signer.client_token("hotel-partner", "rewards.redeem")
    response = app.test_client().get("/me", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200
    other = app.test_client().get("/me", headers={"Authorization": f"Basic {token}"})
    assert other.status_code == 401


def test_a_token_is_verified_once_and_then_served_from_memory(signer: TestSigner) -> None:
    app, keys = make_app(signer, SetOfInactiveUsers())
    token = signer.client_token("hotel-partner", "rewards.redeem")
    answers = [call(app, token) for _ in range(5)]
    assert answers == [(200, {"subject": "hotel-partner", "scopes": ["rewards.redeem"]})] * 5
    assert keys.asked == [signer.kid]


def test_an_account_disabled_after_its_token_was_remembered_is_refused(
    signer: TestSigner,
) -> None:
    inactive = SetOfInactiveUsers()
    app, _keys = make_app(signer, inactive)
    token = signer.user_token("u1")
    assert call(app, token)[0] == 200
    inactive.mark("u1", inactive=True)
    status, body = call(app, token)
    assert (status, body["error"]["code"]) == (401, "ACCOUNT_INACTIVE")


def test_tokens_issued_before_a_revocation_are_refused_and_later_ones_are_not(
    signer: TestSigner,
) -> None:
    inactive = SetOfInactiveUsers()
    app, _keys = make_app(signer, inactive)
    before = signer.token("u1", role="player", claims={"iat": 1_000})
    at = signer.token("u1", role="player", claims={"iat": 1_001})
    client = signer.token("u1", scope="rewards.redeem", claims={"iat": 1_000})
    assert call(app, before)[0] == 200  # remembered before the revocation
    inactive.revoke_tokens("u1", issued_before=1_001, until=2_000)
    status, body = call(app, before)
    assert (status, body["error"]["code"]) == (401, "TOKEN_REVOKED")
    assert call(app, at)[0] == 200
    assert call(app, client)[0] == 200  # a client of that name is another account
    inactive.mark("u1", inactive=True)  # deactivation says so, whatever the token
    status, body = call(app, at)
    assert (status, body["error"]["code"]) == (401, "ACCOUNT_INACTIVE")


def test_a_client_disabled_after_its_token_was_remembered_is_refused(
    signer: TestSigner,
) -> None:
    inactive = SetOfInactiveUsers()
    app, _keys = make_app(signer, inactive)
    token = signer.client_token("hotel-partner", "rewards.redeem")
    assert call(app, token)[0] == 200
    inactive.mark("hotel-partner", inactive=True)  # a user of that name: not this client
    assert call(app, token)[0] == 200
    inactive.mark("client:hotel-partner", inactive=True)
    status, body = call(app, token)
    assert (status, body["error"]["code"]) == (401, "ACCOUNT_INACTIVE")


def test_tokens_past_their_expiry_are_never_served_from_memory(signer: TestSigner) -> None:
    app, keys = make_app(signer, SetOfInactiveUsers())
    within_leeway = signer.token("svc", scope="x", lifetime=-1)
    for _ in range(2):
        assert call(app, within_leeway)[0] == 200
    expired = signer.token("svc", scope="x", lifetime=-60)
    for _ in range(2):
        status, body = call(app, expired)
        assert (status, body["error"]["code"]) == (401, "TOKEN_EXPIRED")
    # Each call checked its token again: nothing was remembered.
    assert len(keys.asked) == 4


def test_a_tampered_token_is_not_mistaken_for_a_remembered_one(signer: TestSigner) -> None:
    app, _keys = make_app(signer, SetOfInactiveUsers())
    token = signer.client_token("hotel-partner", "rewards.redeem")
    assert call(app, token)[0] == 200
    header, _payload, signature = token.split(".")
    forged = signer.client_token("hotel-partner", "rewards.redeem wallet.write").split(".")[1]
    status, body = call(app, f"{header}.{forged}.{signature}")
    assert (status, body["error"]["code"]) == (401, "TOKEN_INVALID")


def test_with_size_zero_every_request_checks_the_signature(signer: TestSigner) -> None:
    app, keys = make_app(signer, SetOfInactiveUsers(), cache_size=0)
    token = signer.client_token()
    for _ in range(3):
        assert call(app, token)[0] == 200
    assert len(keys.asked) == 3


def test_the_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(size=2, seconds=60)
    later = time.time() + 600
    cache.put("a", "A", later)
    cache.put("b", "B", later)
    assert cache.get("a") == "A"  # "a" is now the most recent
    cache.put("c", "C", later)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    assert len(cache) == 2
    cache.put("expired", "E", time.time() - 1)
    cache.put("x" * 9000, "long", later)
    assert cache.get("expired") is None
    assert cache.get("x" * 9000) is None


def test_an_entry_lives_no_longer_than_the_period(monkeypatch: pytest.MonkeyPatch) -> None:
    cache: VerifiedTokenCache[str] = VerifiedTokenCache(size=4, seconds=30)
    now = time.time()
    cache.put("t", "T", now + 3600)
    monkeypatch.setattr(time, "time", lambda: now + 29)
    assert cache.get("t") == "T"
    monkeypatch.setattr(time, "time", lambda: now + 31)
    assert cache.get("t") is None


@pytest.mark.parametrize("missing", ["exp", "iat"])
def test_a_token_without_expiry_or_issue_time_is_refused(signer: TestSigner, missing: str) -> None:
    app, _keys = make_app(signer, SetOfInactiveUsers())
    payload = jwt.decode(signer.user_token("u1"), options={"verify_signature": False})
    del payload[missing]
    token = jwt.encode(payload, signer.private_key, algorithm="RS256", headers={"kid": signer.kid})
    for _ in range(2):  # refused every time, never remembered
        status, body = call(app, token)
        assert (status, body["error"]["code"]) == (401, "TOKEN_INVALID")


@pytest.mark.parametrize(
    "claim",
    [{"iat": "1000"}, {"iat": True}, {"exp": "4102444800"}, {"nbf": "1000"}, {"nbf": False}],
)
def test_a_token_whose_times_are_not_numbers_is_refused(
    signer: TestSigner, claim: dict[str, Any]
) -> None:
    app, _keys = make_app(signer, SetOfInactiveUsers())
    status, body = call(app, signer.token("u1", role="player", claims=claim))
    assert (status, body["error"]["code"]) == (401, "TOKEN_INVALID")
