"""Fixtures for the notification service against real MongoDB (wire server), Redis and Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from embedded.services import redis_url_for
from notification_service.adapters.mongo import NotificationDocument, ensure_indexes
from notification_service.app import create_app
from notification_service.container import Container, build_container
from tests.support.infra import Infra
from tests.support.tokens import AUDIENCE, ISSUER, StaticKeyResolver, TokenMinter

REDIS_DB = 3


def notification_overrides(infra: Infra, **extra: Any) -> dict[str, Any]:
    return {
        "mongodb": {
            "url": infra.mongodb_url,
            "database": f"notifications_test_{infra.run_id}",
            "ensure_indexes_on_start": True,
        },
        "redis": {"url": redis_url_for(infra.redis_url, REDIS_DB)},
        "kafka": infra.kafka_settings,
        "security": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": "http://unused.test"},
        **extra,
    }


@pytest.fixture(scope="session")
def minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture(scope="session")
def notification_container(infra: Infra, minter: TokenMinter) -> Iterator[Container]:
    container = build_container(notification_overrides(infra))
    container.key_resolver.override(StaticKeyResolver(minter))
    database = container.mongo()
    ensure_indexes(database)
    yield container
    container.live_subscriber().stop()
    database.client.drop_database(database.name)
    container.shutdown_resources()
    # Drop the singletons holding the Kafka producer too: a live librdkafka handle keeps
    # reconnecting (and logging) once the broker is stopped at the end of the session.
    container.reset_singletons()


@pytest.fixture(scope="session")
def notification_app(notification_container: Container) -> Flask:
    app = create_app(container=notification_container)
    app.config["TESTING"] = True
    return app


@pytest.fixture(autouse=True)
def _clean_notifications(notification_container: Container) -> Iterator[None]:
    yield
    NotificationDocument._get_collection().delete_many({})
    notification_container.core.redis().flushdb()


@pytest.fixture
def client(notification_app: Flask) -> FlaskClient:
    return notification_app.test_client()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(response: TestResponse) -> dict[str, Any]:
    data = response.get_json()
    assert isinstance(data, dict), response.data[:200]
    return data
