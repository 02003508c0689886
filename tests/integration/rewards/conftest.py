"""Fixtures for the rewards service against real PostgreSQL, Redis and Kafka. Access tokens are
signed by a test key the service resolves in place of auth_service's JWKS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from dependency_injector import providers
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from embedded.services import redis_url_for
from rewards_service.app import create_app
from rewards_service.container import Container, build_container
from rewards_service.domain.model import Player
from shared.security.jwks import KeyResolver
from tests.support.infra import Infra

ISSUER = "http://auth.test"
AUDIENCE = "loyalty-api"
KID = "rewards-test-key"
REDIS_DB = 1


class StaticKeyResolver(KeyResolver):
    def __init__(self, public_key: Any) -> None:
        self._key = public_key

    def public_key(self, kid: str) -> Any | None:
        return self._key if kid == KID else None


@pytest.fixture(scope="session")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rewards_overrides(infra: Infra, database_url: str) -> dict[str, Any]:
    return {
        "database": {"url": database_url, "pool": {"size": 5, "max_overflow": 5}},
        "redis": {"url": redis_url_for(infra.redis_url, REDIS_DB)},
        "kafka": infra.kafka_settings,
        "security": {
            "issuer": ISSUER,
            "audience": AUDIENCE,
            "jwks_url": "http://auth.test/.well-known/jwks.json",
        },
    }


@pytest.fixture(scope="session")
def rewards_database(infra: Infra) -> str:
    return infra.database("rewards")


@pytest.fixture(scope="session")
def rewards_container(
    infra: Infra, rewards_database: str, signing_key: rsa.RSAPrivateKey
) -> Iterator[Container]:
    container = build_container(rewards_overrides(infra, rewards_database))
    container.key_resolver.override(providers.Object(StaticKeyResolver(signing_key.public_key())))
    yield container
    container.key_resolver.reset_override()
    container.shutdown_resources()
    # Drop the singletons holding the Kafka producer too: a live librdkafka handle keeps
    # reconnecting (and logging) once the broker is stopped at the end of the session.
    container.reset_singletons()


@pytest.fixture(scope="session")
def rewards_app(rewards_container: Container) -> Flask:
    app = create_app(container=rewards_container)
    app.config["TESTING"] = True
    return app


@pytest.fixture(autouse=True)
def _clean_rewards(rewards_container: Container) -> Iterator[None]:
    yield
    engine = rewards_container.core.database()
    with engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE player_promotions, reward_events, player_points_daily, "
                "player_points_monthly, players, promotions, outbox, processed_events, "
                "parked_reward_events, pending_wallet_credits"
            )
        )
        # The default rule versions come with the migration; later ones are the test's.
        connection.execute(text("DELETE FROM earning_rule_withdrawals"))
        connection.execute(text("DELETE FROM earning_rules WHERE version > 1"))
    rewards_container.core.redis().flushdb()


@dataclass(frozen=True)
class Reply:
    status_code: int
    json: Any
    headers: Mapping[str, str]


class ApiClient:
    """The Flask test client with JSON replies typed for the tests."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def _reply(self, response: TestResponse) -> Reply:
        return Reply(response.status_code, response.get_json(silent=True), dict(response.headers))

    def get(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        return self._reply(self._client.get(url, headers=headers))

    def post(self, url: str, json: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
        return self._reply(self._client.post(url, json=json, headers=headers))

    def patch(self, url: str, json: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
        return self._reply(self._client.patch(url, json=json, headers=headers))


@pytest.fixture
def client(rewards_app: Flask) -> ApiClient:
    return ApiClient(rewards_app.test_client())


class Tokens:
    """Mints access tokens the way auth_service does (RS256, kid, iss, aud, role)."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def user(self, subject: str, role: str) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": subject,
            "role": role,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(minutes=5),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})

    def headers(self, subject: str, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.user(subject, role)}"}

    def client(
        self, client_id: str, *scopes: str, event_sources: list[str] | None = None
    ) -> dict[str, str]:
        """A partner's client-credentials token (no role; the client id is the subject)."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": client_id,
            "client_id": client_id,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + timedelta(minutes=5),
            "jti": uuid.uuid4().hex,
        }
        if event_sources is not None:
            claims["event_sources"] = event_sources
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": KID})
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def tokens(signing_key: rsa.RSAPrivateKey) -> Tokens:
    return Tokens(signing_key)


@pytest.fixture
def staff(tokens: Tokens) -> dict[str, str]:
    return tokens.headers(str(uuid.uuid4()), "staff")


def add_players(container: Container, count: int = 1) -> list[str]:
    """Registered players, as the players consumer would have recorded them."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with container.uow() as uow:
        uow.players.add_new([Player(i, datetime.now(UTC)) for i in ids])
        uow.commit()
    return ids


def promotion_body(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "title": "Weekend cashback",
        "description": "Cashback on slots this weekend",
        "type": "CASHBACK",
        "amount": "10.50",
        "startDate": (now - timedelta(days=1)).isoformat(),
        "endDate": (now + timedelta(days=7)).isoformat(),
    }
    body.update(overrides)
    return body


def create_promotion(client: ApiClient, headers: dict[str, str], **overrides: Any) -> Any:
    response = client.post("/api/v1/promotions", json=promotion_body(**overrides), headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def outbox_messages(container: Container) -> list[dict[str, Any]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(text("SELECT topic, payload FROM outbox ORDER BY id")).all()
    return [{"topic": r.topic, **r.payload} for r in rows]
