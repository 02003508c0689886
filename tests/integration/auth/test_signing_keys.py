"""Signing keys against PostgreSQL: ``rotate-keys`` with a secret the platform does not run with
is refused, nothing written; an active key the platform cannot decrypt stops the signing with a
503, never the key set or the tokens already issued; and the recovery the runbook gives works."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from auth_service import manage
from auth_service.app import create_app
from auth_service.application.commands import CreateClient, RegisterUser
from auth_service.container import Container, build_container
from shared.domain.principal import Role
from shared.persistence.migrations import upgrade
from tests.integration.auth.conftest import auth_overrides, bearer, login, unique_email
from tests.support.infra import Infra, throwaway_database

PLATFORM_SECRET = "the-platform-key-encryption-secret"
#: what a command run without the platform's secrets exported encrypts with
OTHER_SECRET = "test-key-encryption-secret"
PASSWORD = "correct horse battery"


@pytest.fixture
def database(infra: Infra) -> Iterator[str]:
    with throwaway_database(infra, "auth_keys") as url:
        upgrade("auth_service", url)
        yield url


@pytest.fixture
def containers(
    infra: Infra, database: str, auth_container: Container
) -> Iterator[Callable[[str], Container]]:
    built: list[Container] = []

    def build(secret: str) -> Container:
        overrides = auth_overrides(infra, database)
        # Every request reads the keys afresh: what another process changed is seen at once.
        overrides["security"] |= {"key_encryption_secret": secret, "key_cache_seconds": 0}
        container = build_container(overrides)
        built.append(container)
        return container

    yield build
    for container in built:
        container.shutdown_resources()
        container.reset_singletons()
    # The containers wired the controllers to themselves: give them back to the session's.
    auth_container.wire()


@pytest.fixture
def command_environment(
    monkeypatch: pytest.MonkeyPatch, infra: Infra, database: str
) -> Callable[[str], None]:
    def use(secret: str) -> None:
        monkeypatch.setenv("LOYALTY_PROFILE", "test")
        monkeypatch.setenv("DATABASE_URL", database)
        monkeypatch.setenv("REDIS_URL", infra.redis_url)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
        monkeypatch.setenv("AUTH_KEY_ENCRYPTION_SECRET", secret)

    return use


def rotate_keys(platform: Container, *arguments: str) -> None:
    try:
        manage.main(["rotate-keys", *arguments])
    finally:
        # The command's container wired the controllers to itself: back to the platform's.
        platform.wire()


def stored_keys(container: Container) -> list[tuple[str, str]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(text("SELECT kid, status FROM signing_keys ORDER BY kid"))
        return [(row.kid, row.status) for row in rows]


def platform_with_an_admin(container: Container):
    app = create_app(container=container)
    app.config["TESTING"] = True
    client = app.test_client(use_cookies=False)
    email = unique_email("admin")
    container.account_service().register(
        RegisterUser(email=email, password=PASSWORD, first_name="A", last_name="D", role=Role.ADMIN)
    )
    return client, email


def client_token(client: FlaskClient, credentials: tuple[str, str]) -> Any:
    return client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials)


def test_rotate_keys_with_another_secret_is_refused_and_writes_nothing(
    containers, command_environment, capsys
):
    platform = containers(PLATFORM_SECRET)
    client, email = platform_with_an_admin(platform)
    before = stored_keys(platform)
    ((kid, _),) = before

    command_environment(OTHER_SECRET)
    with pytest.raises(SystemExit) as exited:
        rotate_keys(platform)

    assert exited.value.code == 1
    output = capsys.readouterr()
    assert output.out == ""
    assert kid in output.err
    assert "AUTH_KEY_ENCRYPTION_SECRET" in output.err
    assert stored_keys(platform) == before
    assert login(client, email, PASSWORD).status_code == 200
    assert client.get("/.well-known/jwks.json").status_code == 200

    # With the platform's secret, the rotation is made.
    command_environment(PLATFORM_SECRET)
    rotate_keys(platform)
    rotated = json.loads(capsys.readouterr().out)
    assert rotated["status"] == "ACTIVE"
    assert sorted(stored_keys(platform)) == sorted([(kid, "RETIRING"), (rotated["kid"], "ACTIVE")])
    signed = login(client, email, PASSWORD)
    assert signed.status_code == 200


def test_a_key_the_platform_cannot_decrypt_stops_signing_only_until_replaced(
    containers, command_environment, capsys, caplog
):
    platform = containers(PLATFORM_SECRET)
    client, email = platform_with_an_admin(platform)
    admin_token = login(client, email, PASSWORD).json["accessToken"]
    partner = platform.client_service().create(
        CreateClient(name="Casino", scopes=frozenset({"rewards.read"}), client_id="casino-keys"),
        actor="test",
    )
    credentials = ("casino-keys", partner.secret)
    assert client_token(client, credentials).status_code == 200

    # A key made with another secret (as rotate-keys made it before it checked) is active.
    command_environment(OTHER_SECRET)
    rotate_keys(platform, "--replace-unreadable-key")
    bad_kid = json.loads(capsys.readouterr().out)["kid"]

    published = client.get("/.well-known/jwks.json")
    assert published.status_code == 200
    assert bad_kid in {key["kid"] for key in published.json["keys"]}
    # Tokens issued before are still verified.
    assert client.get("/api/v1/auth/me", headers=bearer(admin_token)).status_code == 200
    for refused in (login(client, email, PASSWORD), client_token(client, credentials)):
        assert refused.status_code == 503
        assert refused.json["error"]["code"] == "AUTH_SIGNING_KEY_UNREADABLE"
    assert f"'kid': '{bad_kid}'" in caplog.text  # the error logged names the key
    # A rotation in this state, here, is refused as well: nothing changes.
    before = stored_keys(platform)
    rotation = client.post("/api/v1/auth/keys/rotate", headers=bearer(admin_token))
    assert rotation.status_code == 503
    assert rotation.json["error"]["code"] == "AUTH_SIGNING_KEY_UNREADABLE"
    assert bad_kid in rotation.json["error"]["message"]
    assert stored_keys(platform) == before

    # The runbook's recovery: replace it with a key made with the platform's secret.
    command_environment(PLATFORM_SECRET)
    rotate_keys(platform, "--replace-unreadable-key")
    assert login(client, email, PASSWORD).status_code == 200
    assert client_token(client, credentials).status_code == 200
    assert client.post("/api/v1/auth/keys/rotate", headers=bearer(admin_token)).status_code == 201
