"""Per-address rate limits on the endpoints that cost argon2 or mint credentials, checked at the
service itself (not only at the gateway), shared through Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from auth_service.app import create_app
from auth_service.container import Container, build_container
from tests.integration.auth.conftest import auth_overrides
from tests.support.infra import Infra

LIMITED = {
    "register": "/api/v1/auth/register",
    "login": "/api/v1/auth/login",
    "refresh": "/api/v1/auth/refresh",
    "password_change": "/api/v1/auth/me/password",
    "password_reset": "/api/v1/auth/password-reset",
    "token": "/oauth2/token",
}


@pytest.fixture
def strict_container(infra: Infra, auth_database: str) -> Iterator[Container]:
    overrides = auth_overrides(infra, auth_database)
    overrides["rate_limits"] = {"enabled": True, **dict.fromkeys(LIMITED, "2/minute")}
    container = build_container(overrides)
    yield container
    container.shutdown_resources()
    container.reset_singletons()


@pytest.fixture
def strict_client(strict_container: Container) -> FlaskClient:
    app = create_app(container=strict_container)
    app.config["TESTING"] = True
    return app.test_client(use_cookies=False)


@pytest.mark.parametrize("name", sorted(LIMITED))
def test_the_third_request_from_one_address_in_a_minute_is_refused(
    strict_client: FlaskClient, auth_container: Container, name: str
) -> None:
    path = LIMITED[name]
    # Refused requests count too: the limit bounds the work, whatever the outcome.
    first, second = (strict_client.post(path, json={}) for _ in range(2))
    assert first.status_code != 429
    assert second.status_code != 429
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert "Retry-After" not in first.headers  # not a refusal: nothing to wait for
    third = strict_client.post(path, json={})
    assert third.status_code == 429, third.get_data(as_text=True)
    assert (third.json or {})["error"]["code"] == "RATE_LIMITED"
    assert int(third.headers["Retry-After"]) > 0
    # Another address has its own allowance; other endpoints are not limited by this one.
    elsewhere = strict_client.post(path, json={}, environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert elsewhere.status_code != 429
    assert strict_client.get("/.well-known/jwks.json").status_code == 200


@pytest.fixture
def unlimited_client(infra: Infra, auth_database: str) -> Iterator[FlaskClient]:
    overrides = auth_overrides(infra, auth_database)
    overrides["rate_limits"] = {"enabled": False, **dict.fromkeys(LIMITED, "2/minute")}
    container = build_container(overrides)
    app = create_app(container=container)
    app.config["TESTING"] = True
    yield app.test_client(use_cookies=False)
    container.shutdown_resources()
    container.reset_singletons()


def test_with_limits_switched_off_every_request_is_served(unlimited_client: FlaskClient) -> None:
    answers = [unlimited_client.post(LIMITED["register"], json={}) for _ in range(4)]

    assert [a.status_code for a in answers] == [422] * 4, answers[-1].get_data(as_text=True)
