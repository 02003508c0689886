"""Fixtures for the identity service against real PostgreSQL, Redis and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from auth_service.app import create_app
from auth_service.container import Container, build_container
from tests.support.infra import Infra

ISSUER = "http://auth.test"
AUDIENCE = "loyalty-api"
ADMIN_PASSWORD = "admin-password-123"


def auth_overrides(infra: Infra, database_url: str) -> dict[str, Any]:
    return {
        "database": {"url": database_url, "pool": {"size": 5, "max_overflow": 5}},
        "redis": {"url": infra.redis_url},
        "kafka": infra.kafka_settings,
        "security": {"issuer": ISSUER, "audience": AUDIENCE},
    }


@pytest.fixture(scope="session")
def auth_database(infra: Infra) -> str:
    return infra.database("auth")


@pytest.fixture(scope="session")
def auth_container(infra: Infra, auth_database: str) -> Iterator[Container]:
    container = build_container(auth_overrides(infra, auth_database))
    yield container
    container.shutdown_resources()
    # Drop the singletons holding the Kafka producer too: a live librdkafka handle keeps
    # reconnecting (and logging) once the broker is stopped at the end of the session.
    container.reset_singletons()


@pytest.fixture(scope="session")
def auth_app(auth_container: Container) -> Flask:
    app = create_app(container=auth_container)
    app.config["TESTING"] = True
    return app


@pytest.fixture(autouse=True)
def _clean_auth(auth_container: Container) -> Iterator[None]:
    yield
    engine = auth_container.core.database()
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE users, partner_clients, outbox, processed_events"))
    auth_container.core.redis().flushdb()


@pytest.fixture
def client(auth_app: Flask) -> FlaskClient:
    return auth_app.test_client(use_cookies=False)


def unique_email(prefix: str = "player") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def register(
    client: FlaskClient,
    email: str | None = None,
    password: str = "correct horse battery",
    **extra: Any,
) -> Any:
    body = {"email": email or unique_email(), "password": password, **extra}
    return client.post("/api/v1/auth/register", json=body)


def login(client: FlaskClient, email: str, password: str = "correct horse battery") -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


@pytest.fixture
def admin_token(auth_container: Container, client: FlaskClient) -> str:
    from auth_service.application.commands import RegisterUser
    from shared.domain.principal import Role

    email = unique_email("admin")
    auth_container.account_service().register(
        RegisterUser(
            email=email, password=ADMIN_PASSWORD, first_name="A", last_name="Dmin", role=Role.ADMIN
        )
    )
    response = login(client, email, ADMIN_PASSWORD)
    assert response.status_code == 200, response.json
    return str(response.json["accessToken"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def published_on_user_status(container: Container, key: str, *fields: str) -> list[tuple[Any, ...]]:
    """The given payload fields of what the outbox holds for ``key`` on ``user-status``, in
    the order it was written."""
    columns = ", ".join(f"payload->>'{field}'" for field in fields)
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text(
                f"SELECT {columns} FROM outbox "  # noqa: S608 - field names from the tests
                "WHERE topic = 'user-status' AND message_key = :k ORDER BY id"
            ),
            {"k": key},
        ).all()
    return [tuple(row) for row in rows]
