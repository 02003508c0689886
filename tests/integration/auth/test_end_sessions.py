"""Signing out everywhere: the owner for themself, staff at the desk for a player (real
PostgreSQL and Redis): refresh tokens revoked, access tokens issued until then refused."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.auth.conftest import (
    bearer,
    login,
    published_on_user_status,
    register,
    unique_email,
)
from tests.integration.auth.test_admin import token_for
from tests.integration.auth.test_sessions import refresh, refresh_cookie
from tests.support.tokens import into_the_next_second


@pytest.fixture
def player(client) -> dict[str, str]:
    email = unique_email()
    return {"email": email, "id": register(client, email).json["id"]}


def end_sessions(client, path: str, token: str) -> Any:
    return client.delete(f"/api/v1/auth/{path}", headers=bearer(token))


def revocations(auth_container, account: str) -> list[tuple[Any, ...]]:
    return published_on_user_status(auth_container, account, "reason", "changedBy")


def test_the_owner_signs_out_everywhere_this_device_included(client, player, auth_container):
    phone, laptop = login(client, player["email"]), login(client, player["email"])
    into_the_next_second()
    ended = end_sessions(client, "me/sessions", laptop.json["accessToken"])
    assert ended.status_code == 204
    assert "Max-Age=0" in ended.headers["Set-Cookie"]  # this device's cookie is cleared
    for device in (phone, laptop):
        assert refresh(client, refresh_cookie(device)).status_code == 401
        refused = client.get("/api/v1/auth/me", headers=bearer(device.json["accessToken"]))
        assert (refused.status_code, refused.json["error"]["code"]) == (401, "TOKEN_REVOKED")
    assert revocations(auth_container, player["id"]) == [("SIGNED_OUT_EVERYWHERE", player["id"])]
    # The password is unchanged: logging in again works.
    again = login(client, player["email"])
    assert (
        client.get("/api/v1/auth/me", headers=bearer(again.json["accessToken"])).status_code == 200
    )


def test_a_player_signs_out_everywhere_by_their_own_id_too(client, player, auth_container):
    device = login(client, player["email"])
    into_the_next_second()
    ended = end_sessions(client, f"users/{player['id']}/sessions", device.json["accessToken"])
    assert ended.status_code == 204
    assert refresh(client, refresh_cookie(device)).status_code == 401
    assert revocations(auth_container, player["id"]) == [("SIGNED_OUT_EVERYWHERE", player["id"])]


def test_staff_sign_a_player_out_everywhere_at_the_desk(
    client, player, admin_token, auth_container
):
    phone = login(client, player["email"])
    staff = token_for(client, "staff", admin_token)
    into_the_next_second()
    ended = end_sessions(client, f"users/{player['id']}/sessions", staff)
    assert ended.status_code == 204
    assert refresh(client, refresh_cookie(phone)).status_code == 401
    refused = client.get("/api/v1/auth/me", headers=bearer(phone.json["accessToken"]))
    assert refused.json["error"]["code"] == "TOKEN_REVOKED"
    staff_id = client.get("/api/v1/auth/me", headers=bearer(staff)).json["id"]
    assert revocations(auth_container, player["id"]) == [("SESSIONS_ENDED", staff_id)]
    assert login(client, player["email"]).status_code == 200


def test_who_may_end_whose_sessions(client, player, admin_token):
    staff = token_for(client, "staff", admin_token)
    other_staff = token_for(client, "staff", admin_token)
    staff_id = client.get("/api/v1/auth/me", headers=bearer(staff)).json["id"]
    admin_id = client.get("/api/v1/auth/me", headers=bearer(admin_token)).json["id"]
    player_token = login(client, player["email"]).json["accessToken"]
    other = register(client, unique_email()).json["id"]
    for token, target, expected in [
        (player_token, other, 403),  # players are not staff
        (player_token, "00000000-0000-4000-8000-000000000000", 403),  # nor told who exists
        (other_staff, staff_id, 403),  # staff do not end staff's sessions
        (staff, admin_id, 403),
        (other_staff, admin_id, 403),  # nobody ends an administrator's but the owner
        (staff, "00000000-0000-4000-8000-000000000000", 404),
        (admin_token, staff_id, 204),
    ]:
        answer = end_sessions(client, f"users/{target}/sessions", token)
        assert answer.status_code == expected, (target, answer.status_code)
    assert end_sessions(client, "users/not-a-uuid/sessions", admin_token).status_code == 404
    assert client.delete("/api/v1/auth/me/sessions").status_code == 401
    # The staff member the administrator signed out is refused; the other is not.
    assert client.get("/api/v1/auth/me", headers=bearer(other_staff)).status_code == 200
