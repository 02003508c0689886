"""One client address shared by many guests (the resort's Wi-Fi): what its login lockout counts,
and what stays usable while it is locked (ADR 0023; real PostgreSQL and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers

from auth_service.adapters.redis_store import RedisLoginThrottle
from auth_service.application.commands import RegisterUser
from shared.domain.principal import Role
from tests.integration.auth.conftest import bearer, register, unique_email
from tests.integration.auth.test_admin import token_for
from tests.integration.auth.test_sessions import PASSWORD, change_password

RESORT = "203.0.113.77"
ELSEWHERE = "198.51.100.5"
LIMIT = 3  # per address here, so that going past it takes a few requests


@pytest.fixture
def address_limit(auth_container) -> Iterator[int]:
    throttle = RedisLoginThrottle(
        auth_container.core.redis(),
        max_per_account=auth_container.config.login.max_failures_per_account(),
        max_per_address=LIMIT,
        window_seconds=900,
        lockout_seconds=900,
    )
    # The views take the throttle of the container they are wired to: the session's (a test
    # before may have built and wired another).
    auth_container.wire()
    auth_container.login_throttle.override(providers.Object(throttle))
    yield LIMIT
    auth_container.login_throttle.reset_override()


def login_from(client, address: str, email: str, password: str = PASSWORD) -> Any:
    return client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def lock_the_address(client, address: str) -> None:
    """Wrong passwords of as many existing accounts as the address may fail on: spraying."""
    for _ in range(LIMIT):
        email = unique_email("sprayed")
        register(client, email)
        assert login_from(client, address, email, "Summer2026!!").status_code == 401
    locked = login_from(client, address, unique_email("next"), "Summer2026!!")
    assert (locked.status_code, locked.json["error"]["code"]) == (429, "AUTH_TOO_MANY_ATTEMPTS")


def test_failed_logins_with_unknown_emails_do_not_lock_the_address_out(
    client, auth_container, address_limit
):
    player = unique_email()
    register(client, player)
    staff = unique_email("staff")
    auth_container.account_service().register(
        RegisterUser(email=staff, password=PASSWORD, first_name="", last_name="", role=Role.STAFF)
    )
    # One guest trying random addresses, or many mistyping theirs: far past the limit.
    for _ in range(address_limit * 4):
        stranger = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        assert login_from(client, RESORT, stranger, "whatever it was").status_code == 401
    assert login_from(client, RESORT, player).status_code == 200
    assert login_from(client, RESORT, staff).status_code == 200
    # An unknown email is still locked out like an account (nothing tells them apart).
    typo = unique_email("typo")
    for _ in range(auth_container.config.login.max_failures_per_account()):
        assert login_from(client, RESORT, typo, "whatever it was").status_code == 401
    assert login_from(client, RESORT, typo, "whatever it was").status_code == 429
    assert login_from(client, RESORT, player).status_code == 200


def test_wrong_passwords_over_many_accounts_from_one_address_still_lock_it(
    client, auth_container, address_limit
):
    player = unique_email()
    register(client, player)
    lock_the_address(client, RESORT)
    assert login_from(client, RESORT, player).status_code == 429
    assert login_from(client, ELSEWHERE, player).status_code == 200


def test_a_password_change_is_not_stopped_by_a_locked_address(client, address_limit):
    player = unique_email()
    register(client, player)
    access = login_from(client, ELSEWHERE, player).json["accessToken"]
    lock_the_address(client, RESORT)
    changed = client.post(
        "/api/v1/auth/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"},
        headers=bearer(access),
        environ_base={"REMOTE_ADDR": RESORT},
    )
    assert changed.status_code == 200, changed.json
    # Its own guard is the account's lockout, as before.
    access = changed.json["accessToken"]
    for _ in range(5):
        assert (
            change_password(client, access, "not my password", "x new passphrase").status_code
            == 403
        )
    assert (
        change_password(client, access, "a brand new passphrase", "x new passphrase").status_code
        == 429
    )


def test_a_code_from_the_desk_works_from_a_locked_address(client, admin_token, address_limit):
    player = unique_email()
    player_id = register(client, player).json["id"]
    lock_the_address(client, RESORT)
    staff = token_for(client, "staff", admin_token)

    def reset(code: str) -> Any:
        return client.post(
            "/api/v1/auth/password-reset",
            json={"email": player, "resetCode": code, "newPassword": "a fresh passphrase"},
            environ_base={"REMOTE_ADDR": RESORT},
        )

    issued = client.post(f"/api/v1/auth/users/{player_id}/password-reset", headers=bearer(staff))
    code = issued.json["resetCode"]
    # Wrong codes count toward the account's own lockout only.
    for _ in range(2):
        wrong = reset("AAAA-BBBB-CCCC")
        assert (wrong.status_code, wrong.json["error"]["code"]) == (401, "AUTH_INVALID_RESET_CODE")
    used = reset(code)
    assert used.status_code == 200, used.json
    assert used.json["user"]["id"] == player_id
