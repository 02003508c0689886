"""Password reset at the desk: staff issue a one-time code, the owner sets a new password with
it (real PostgreSQL and Redis)."""

from __future__ import annotations

import threading
import time
from typing import Any
from unittest.mock import ANY

import pytest
from sqlalchemy import text

from tests.integration.auth.conftest import bearer, login, register, unique_email
from tests.integration.auth.test_admin import token_for
from tests.integration.auth.test_sessions import PASSWORD, refresh, refresh_cookie

NEW_PASSWORD = "a fresh passphrase"


def issue(client, user_id: str, token: str) -> Any:
    return client.post(f"/api/v1/auth/users/{user_id}/password-reset", headers=bearer(token))


def reset(client, email: str, code: str, new_password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/api/v1/auth/password-reset",
        json={"email": email, "resetCode": code, "newPassword": new_password},
    )


@pytest.fixture
def player(client) -> dict[str, str]:
    email = unique_email()
    return {"email": email, "id": register(client, email).json["id"]}


@pytest.fixture
def staff_token(client, admin_token) -> str:
    return token_for(client, "staff", admin_token)


def test_the_owner_sets_a_new_password_with_the_code_once(
    client, player, staff_token, auth_container
):
    other_device = login(client, player["email"])
    issued = issue(client, player["id"], staff_token)
    assert issued.status_code == 201, issued.json
    code = issued.json["resetCode"]
    assert len(code) == 14
    assert code.count("-") == 2
    assert issued.json["userId"] == player["id"]
    assert issued.json["expiresAt"]

    # As typed from paper: lower case, without the dashes.
    used = reset(client, player["email"].upper(), code.replace("-", "").lower())
    assert used.status_code == 200, used.json
    assert used.json["user"]["id"] == player["id"]
    assert refresh_cookie(used)
    assert refresh(client, refresh_cookie(other_device)).status_code == 401
    assert login(client, player["email"], PASSWORD).status_code == 401
    assert login(client, player["email"], NEW_PASSWORD).status_code == 200
    again = reset(client, player["email"], code, "yet another passphrase")
    assert (again.status_code, again.json["error"]["code"]) == (401, "AUTH_INVALID_RESET_CODE")
    with auth_container.core.database().connect() as connection:
        notices = (
            connection.execute(
                text(
                    "SELECT payload->>'eventType' FROM outbox WHERE topic = 'notifications' "
                    "AND message_key = :u"
                ),
                {"u": player["id"]},
            )
            .scalars()
            .all()
        )
    assert notices == ["PASSWORD_CHANGED"]
    # Only a digest of the code is kept.
    stored = auth_container.core.redis().get(f"pwreset:{player['id']}")
    assert stored is None


def test_a_wrong_code_neither_works_nor_cancels_the_right_one_and_counts_as_a_failure(
    client, player, staff_token
):
    code = issue(client, player["id"], staff_token).json["resetCode"]
    stranger = reset(client, unique_email(), code)
    wrong = reset(client, player["email"], "AAAA-BBBB-CCCC")
    # An unknown address and a wrong code get the same answer.
    assert stranger.json["error"] == {**wrong.json["error"], "correlationId": ANY}
    assert (wrong.status_code, wrong.json["error"]["code"]) == (401, "AUTH_INVALID_RESET_CODE")
    assert reset(client, player["email"], code).status_code == 200
    # A new code replaces the earlier one; guesses count toward the login lockout.
    first = issue(client, player["id"], staff_token).json["resetCode"]
    second = issue(client, player["id"], staff_token).json["resetCode"]
    assert reset(client, player["email"], first).status_code == 401
    for _ in range(4):
        assert reset(client, player["email"], "AAAA-BBBB-CCCC").status_code == 401
    locked = reset(client, player["email"], second)
    assert (locked.status_code, locked.json["error"]["code"]) == (429, "AUTH_TOO_MANY_ATTEMPTS")


def test_a_weak_password_is_refused_before_the_code_is_used(client, player, staff_token):
    code = issue(client, player["id"], staff_token).json["resetCode"]
    # More weak tries than the lockout allows attempts: none counts toward it.
    for _ in range(6):
        weak = reset(client, player["email"], code, "aaaaaaaaaaaa")
        assert (weak.status_code, weak.json["error"]["code"]) == (422, "AUTH_WEAK_PASSWORD")
    short = reset(client, player["email"], code, "short")
    assert (short.status_code, short.json["error"]["code"]) == (422, "VALIDATION_FAILED")
    assert reset(client, player["email"], code).status_code == 200


@pytest.mark.parametrize("owner_acts", ["changes the password", "signs out everywhere"])
def test_a_code_does_not_outlive_what_the_owner_did_since(client, player, staff_token, owner_acts):
    # Someone who saw the code (on paper, over a shoulder) must not take the account over
    # once the owner changed the password or signed out everywhere.
    code = issue(client, player["id"], staff_token).json["resetCode"]
    token = login(client, player["email"]).json["accessToken"]
    if owner_acts == "changes the password":
        changed = client.post(
            "/api/v1/auth/me/password",
            json={"currentPassword": PASSWORD, "newPassword": "the owner's own new one"},
            headers=bearer(token),
        )
        assert changed.status_code == 200, changed.json
    else:
        assert client.delete("/api/v1/auth/me/sessions", headers=bearer(token)).status_code == 204
    late = reset(client, player["email"], code, "an intruder's password")
    assert (late.status_code, late.json["error"]["code"]) == (401, "AUTH_INVALID_RESET_CODE")


def test_a_code_expires(client, player, staff_token, auth_container):
    code = issue(client, player["id"], staff_token).json["resetCode"]
    auth_container.core.redis().pexpire(f"pwreset:{player['id']}", 50)
    time.sleep(0.2)
    assert reset(client, player["email"], code).status_code == 401


def test_concurrent_uses_of_one_code_let_exactly_one_through(auth_app, player, staff_token):
    code = issue(auth_app.test_client(), player["id"], staff_token).json["resetCode"]
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def attempt(n: int) -> None:
        local = auth_app.test_client(use_cookies=False)
        barrier.wait()
        statuses.append(reset(local, player["email"], code, f"new passphrase {n}").status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The others fail as wrong codes (the fifth failure locks the account: 429 after it).
    assert statuses.count(200) == 1
    assert set(statuses) - {200} <= {401, 429}


def test_who_may_issue_a_reset_for_whom(client, admin_token, player):
    staff = token_for(client, "staff", admin_token)
    other_staff_email = unique_email("staff")
    other_staff = client.post(
        "/api/v1/auth/register-staff",
        json={"email": other_staff_email, "password": PASSWORD, "role": "staff"},
        headers=bearer(admin_token),
    ).json["id"]
    admin_id = client.get("/api/v1/auth/me", headers=bearer(admin_token)).json["id"]
    staff_id = client.get("/api/v1/auth/me", headers=bearer(staff)).json["id"]
    player_token = login(client, player["email"]).json["accessToken"]

    def status(user_id: str, token: str) -> tuple[int, str | None]:
        response = issue(client, user_id, token)
        return response.status_code, (response.json.get("error") or {}).get("code")

    assert status(player["id"], staff)[0] == 201
    assert status(player["id"], admin_token)[0] == 201
    assert status(other_staff, admin_token)[0] == 201
    refused = (403, "AUTH_RESET_NOT_ALLOWED")
    assert status(other_staff, staff) == refused  # staff cannot take over a colleague
    assert status(admin_id, staff) == refused
    assert status(admin_id, admin_token) == refused  # nor anyone their own account
    assert status(staff_id, staff) == refused
    assert status(player["id"], player_token)[0] == 403
    assert client.post(f"/api/v1/auth/users/{player['id']}/password-reset").status_code == 401
    missing = issue(client, "00000000-0000-4000-8000-000000000000", staff)
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "AUTH_USER_NOT_FOUND")


def test_no_reset_for_a_deactivated_account(client, admin_token, player):
    client.post(f"/api/v1/auth/users/{player['id']}/deactivate", headers=bearer(admin_token))
    refused = issue(client, player["id"], admin_token)
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "AUTH_ACCOUNT_INACTIVE")


def test_a_code_does_not_outlive_a_deactivation(client, admin_token, player, staff_token):
    # The code may have gone to an impostor, which is why the account was deactivated: it
    # must not open the account once it is reactivated.
    code = issue(client, player["id"], staff_token).json["resetCode"]
    for action in ("deactivate", "reactivate"):
        changed = client.post(
            f"/api/v1/auth/users/{player['id']}/{action}", headers=bearer(admin_token)
        )
        assert changed.status_code == 200, changed.json
    late = reset(client, player["email"], code, "an intruder's password")
    assert (late.status_code, late.json["error"]["code"]) == (401, "AUTH_INVALID_RESET_CODE")
    assert login(client, player["email"], PASSWORD).status_code == 200


def test_issuing_a_code_lifts_the_lockout_that_brought_the_owner_to_the_desk(
    client, player, staff_token
):
    for _ in range(5):
        assert login(client, player["email"], "not my password").status_code == 401
    assert login(client, player["email"]).status_code == 429
    code = issue(client, player["id"], staff_token).json["resetCode"]
    assert reset(client, player["email"], code).status_code == 200
    assert login(client, player["email"], NEW_PASSWORD).status_code == 200
