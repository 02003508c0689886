"""When the services fetch the authorization server's keys: a new key at once, forged ``kid``
values at most once a second, an unpublished ``kid`` not again for the cooldown."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.security.jwks import JwksKeyResolver


def jwk(kid: str) -> dict[str, Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(RSAAlgorithm.to_jwk(key)), "kid": kid, "alg": "RS256", "use": "sig"}


class AuthServer:
    """The JWKS endpoint: what it publishes, whether it answers, how often it was asked."""

    def __init__(self, *kids: str) -> None:
        self.published = [jwk(kid) for kid in kids]
        self.down = False
        self.fetches = 0

    def get(self, _url: str, timeout: float) -> Any:
        self.fetches += 1
        if self.down:
            raise requests.ConnectionError("auth is down")
        server = self

        class Answer:
            def raise_for_status(self) -> None:
                return None

            def json(self) -> dict[str, Any]:
                return {"keys": server.published}

        return Answer()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def resolver(auth: AuthServer, clock: Clock) -> JwksKeyResolver:
    return JwksKeyResolver(
        "http://auth/.well-known/jwks.json",
        refetch_cooldown=30.0,
        session=auth,  # type: ignore[arg-type]
        monotonic=clock,
    )


def test_a_new_key_verifies_at_once_even_after_a_forged_kid(clock: Clock) -> None:
    auth = AuthServer("key-1")
    keys = resolver(auth, clock)
    assert keys.public_key("key-1") is not None
    clock.now += 60
    assert keys.public_key("forged") is None  # asked for, just before a rotation
    auth.published.append(jwk("key-2"))  # the rotation
    clock.now += 1.5
    # One cooldown for every kid refused the new key's tokens for 30 s at every service.
    assert keys.public_key("key-2") is not None
    assert auth.fetches == 3


def test_forged_kids_cost_at_most_one_fetch_a_second(clock: Clock) -> None:
    auth = AuthServer("key-1")
    keys = resolver(auth, clock)
    keys.refresh()  # as a process warms up, well before traffic
    clock.now += 60
    for i in range(100):
        assert keys.public_key(f"forged-{i}") is None
        clock.now += 0.005
    assert auth.fetches == 2
    clock.now += 2
    assert keys.public_key("forged-0") is None  # known unpublished: not asked again
    assert auth.fetches == 2
    assert keys.public_key("forged-new") is None
    assert auth.fetches == 3
    clock.now += 31
    assert keys.public_key("forged-0") is None  # the cooldown is over: asked once more
    assert auth.fetches == 4


def test_while_auth_is_down_it_is_asked_at_most_once_a_second(clock: Clock) -> None:
    auth = AuthServer("key-1")
    keys = resolver(auth, clock)
    keys.refresh()
    clock.now += 60
    auth.down = True
    for i in range(50):
        keys.public_key(f"unknown-{i}")
        clock.now += 0.01
    assert auth.fetches == 2
    auth.down = False
    auth.published.append(jwk("key-2"))
    clock.now += 1
    # A failed fetch proved nothing unpublished: the kid is found once auth answers.
    assert keys.public_key("unknown-0") is None
    assert keys.public_key("key-2") is not None
    assert keys.public_key("key-1") is not None  # known keys never needed a fetch
