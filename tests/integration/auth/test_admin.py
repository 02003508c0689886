"""Administration: staff registration, users, deactivation, partner clients, key rotation."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import text

from tests.integration.auth.conftest import (
    bearer,
    login,
    published_on_user_status,
    register,
    unique_email,
)
from tests.support.tokens import into_the_next_second

PASSWORD = "correct horse battery"


def token_for(client, role: str, admin_token: str) -> str:
    email = unique_email(role)
    if role == "player":
        register(client, email)
    else:
        response = client.post(
            "/api/v1/auth/register-staff",
            json={"email": email, "password": PASSWORD, "role": role},
            headers=bearer(admin_token),
        )
        assert response.status_code == 201, response.json
    return str(login(client, email).json["accessToken"])


def test_staff_registration_is_for_admins_only(client, admin_token):
    body = {"email": unique_email("staff"), "password": PASSWORD}
    assert client.post("/api/v1/auth/register-staff", json=body).status_code == 401
    for role in ("player", "staff"):
        token = token_for(client, role, admin_token)
        response = client.post("/api/v1/auth/register-staff", json=body, headers=bearer(token))
        assert response.status_code == 403, role
        assert response.json["error"]["code"] == "FORBIDDEN"
    response = client.post("/api/v1/auth/register-staff", json=body, headers=bearer(admin_token))
    assert response.status_code == 201
    assert response.json["role"] == "staff"


@pytest.mark.parametrize("role", ["player", "ADMIN", "Staff", "root"])
def test_staff_registration_names_only_the_roles_it_accepts(client, admin_token, role):
    # Roles are matched exactly, as every enum of the API; whatever is refused, the answer
    # lists staff and admin only (never player, which is refused too).
    body = {"email": unique_email(), "password": PASSWORD, "role": role}
    response = client.post("/api/v1/auth/register-staff", json=body, headers=bearer(admin_token))
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert error["details"]["json"] == {"role": ["Must be one of: staff, admin."]}


def test_staff_registration_documents_the_roles_it_accepts(client):
    spec = client.get("/auth/openapi.json").json
    body = spec["paths"]["/api/v1/auth/register-staff"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    assert schema["properties"]["role"]["enum"] == ["staff", "admin"]


def test_an_admin_registers_an_admin(client, admin_token):
    body = {"email": unique_email("admin"), "password": PASSWORD, "role": "admin"}
    response = client.post("/api/v1/auth/register-staff", json=body, headers=bearer(admin_token))
    assert (response.status_code, response.json["role"]) == (201, "admin")


def test_listing_users_filters_and_paginates(client, admin_token):
    for _ in range(3):
        register(client)
    response = client.get(
        "/api/v1/auth/users?role=player&pageSize=2&page=1", headers=bearer(admin_token)
    )
    assert response.status_code == 200
    page = response.json
    assert page["total"] == 3
    assert page["pageSize"] == 2
    assert len(page["items"]) == 2
    assert all(u["role"] == "player" for u in page["items"])
    for query in ("pageSize=1000", "roles=player"):  # "roles" is not "role": refused
        listed = client.get(f"/api/v1/auth/users?{query}", headers=bearer(admin_token))
        assert listed.status_code == 422, query


def test_players_cannot_list_users(client, admin_token):
    token = token_for(client, "player", admin_token)
    assert client.get("/api/v1/auth/users", headers=bearer(token)).status_code == 403


def test_deactivation_blocks_login_refresh_and_existing_tokens(client, admin_token, auth_container):
    email = unique_email()
    user = register(client, email).json
    session = login(client, email)
    access = session.json["accessToken"]
    cookie = next(
        h for h in session.headers.getlist("Set-Cookie") if h.startswith("refresh_token=")
    )
    refresh_token = cookie.split(";", 1)[0].split("=", 1)[1]

    response = client.post(
        f"/api/v1/auth/users/{user['id']}/deactivate", headers=bearer(admin_token)
    )
    assert response.status_code == 200
    assert response.json["status"] == "INACTIVE"

    refused = login(client, email)
    assert refused.status_code == 403
    assert refused.json["error"]["code"] == "AUTH_ACCOUNT_INACTIVE"
    again = client.post(
        "/api/v1/auth/refresh", headers={"Cookie": f"refresh_token={refresh_token}"}
    )
    assert again.status_code == 401
    me = client.get("/api/v1/auth/me", headers=bearer(access))
    assert me.status_code == 401
    assert me.json["error"]["code"] == "ACCOUNT_INACTIVE"
    with auth_container.core.database().connect() as connection:
        events = (
            connection.execute(
                text("SELECT payload FROM outbox WHERE topic = 'user-status' AND message_key = :u"),
                {"u": user["id"]},
            )
            .scalars()
            .all()
        )
    assert [e["status"] for e in events] == ["INACTIVE"]

    assert (
        client.post(
            f"/api/v1/auth/users/{user['id']}/reactivate", headers=bearer(admin_token)
        ).status_code
        == 200
    )
    assert login(client, email).status_code == 200


def test_only_admins_deactivate_and_not_themselves(client, admin_token):
    user = register(client).json
    staff = token_for(client, "staff", admin_token)
    assert (
        client.post(
            f"/api/v1/auth/users/{user['id']}/deactivate", headers=bearer(staff)
        ).status_code
        == 403
    )
    admin_id = client.get("/api/v1/auth/me", headers=bearer(admin_token)).json["id"]
    response = client.post(f"/api/v1/auth/users/{admin_id}/deactivate", headers=bearer(admin_token))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "AUTH_CANNOT_CHANGE_OWN_STATUS"


def test_unknown_and_malformed_user_ids(client, admin_token):
    missing = client.post(
        "/api/v1/auth/users/7c1d7a8e-1111-4222-8333-944455556666/deactivate",
        headers=bearer(admin_token),
    )
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "AUTH_USER_NOT_FOUND"
    malformed = client.post(
        "/api/v1/auth/users/'%20OR%201=1--/deactivate", headers=bearer(admin_token)
    )
    assert malformed.status_code == 404


def test_a_client_secret_is_shown_once_and_stored_hashed(client, admin_token, auth_container):
    response = client.post(
        "/api/v1/auth/clients",
        json={
            "name": "Spa",
            "scopes": ["rewards.write"],
            "clientId": "spa",
            "eventSources": ["DINING"],
        },
        headers=bearer(admin_token),
    )
    assert response.status_code == 201
    secret = response.json["clientSecret"]
    assert len(secret) >= 40
    listed = client.get("/api/v1/auth/clients", headers=bearer(admin_token)).json
    assert "clientSecret" not in str(listed)
    assert [c["clientId"] for c in listed["items"]] == ["spa"]
    # The answer describes the client as it is stored and read from then on.
    created = {k: v for k, v in response.json.items() if k != "clientSecret"}
    assert created == listed["items"][0]
    assert created["updatedAt"] == created["createdAt"]
    with auth_container.core.database().connect() as connection:
        stored = connection.execute(
            text("SELECT secret_hash FROM partner_clients WHERE client_id = 'spa'")
        ).scalar_one()
    assert secret not in stored
    assert stored.startswith("hmac-sha256$")
    duplicate = client.post(
        "/api/v1/auth/clients",
        json={
            "name": "Spa",
            "scopes": ["rewards.write"],
            "clientId": "spa",
            "eventSources": ["DINING"],
        },
        headers=bearer(admin_token),
    )
    assert duplicate.status_code == 409


def test_a_client_id_cannot_take_the_form_of_a_user_id(client, admin_token):
    # Services record a requester by user id or client id; a client named like a user would
    # read that user's redemptions and replay their idempotency keys.
    response = client.post(
        "/api/v1/auth/clients",
        json={"name": "Look-alike", "scopes": ["rewards.redeem"], "clientId": str(uuid.uuid4())},
        headers=bearer(admin_token),
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "AUTH_INVALID_CLIENT_ID"


def test_a_client_sending_events_names_their_kinds_and_its_tokens_carry_them(client, admin_token):
    def create(**body: Any) -> Any:
        return client.post(
            "/api/v1/auth/clients", json={"name": "Spa", **body}, headers=bearer(admin_token)
        )

    missing = create(scopes=["rewards.write"])
    assert missing.status_code == 422
    assert missing.json["error"]["code"] == "AUTH_INVALID_EVENT_SOURCES"
    assert "eventSources" in missing.json["error"]["message"]
    needless = create(scopes=["rewards.read"], eventSources=["DINING"])
    assert needless.json["error"]["code"] == "AUTH_INVALID_EVENT_SOURCES"
    unknown = create(scopes=["rewards.write"], eventSources=["SPA"])
    assert unknown.status_code == 422
    assert unknown.json["error"]["code"] == "VALIDATION_FAILED"

    created = create(scopes=["rewards.read", "rewards.write"], eventSources=["DINING", "HOTEL"])
    assert created.status_code == 201
    assert created.json["eventSources"] == ["DINING", "HOTEL"]
    assert created.json["scopes"] == ["rewards.read", "rewards.write"]
    listed = client.get("/api/v1/auth/clients", headers=bearer(admin_token)).json["items"]
    assert [c["eventSources"] for c in listed] == [["DINING", "HOTEL"]]

    def claims(scope: str | None = None) -> dict[str, Any]:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        credentials = (created.json["clientId"], created.json["clientSecret"])
        token = client.post("/oauth2/token", data=form, auth=credentials).json["access_token"]
        decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return decoded

    assert claims()["event_sources"] == ["DINING", "HOTEL"]
    assert "event_sources" not in claims("rewards.read")  # a token that cannot send events


def test_clients_need_known_scopes(client, admin_token):
    response = client.post(
        "/api/v1/auth/clients", json={"name": "X", "scopes": ["root"]}, headers=bearer(admin_token)
    )
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["", "   ", "Spa\nadmin", "x" * 101])
def test_clients_need_a_name_on_one_line(client, admin_token, name):
    response = client.post(
        "/api/v1/auth/clients",
        json={"name": name, "scopes": ["rewards.read"]},
        headers=bearer(admin_token),
    )
    assert response.status_code == 422
    assert response.json["error"]["code"] == "VALIDATION_FAILED"
    assert "name" in response.json["error"]["details"]["json"]


def test_a_disabled_client_gets_no_token_and_its_tokens_are_refused_everywhere(
    client, admin_token, auth_container
):
    created = client.post(
        "/api/v1/auth/clients",
        json={"name": "Bar", "scopes": ["rewards.read"]},
        headers=bearer(admin_token),
    ).json
    credentials = (created["clientId"], created["clientSecret"])
    form = {"grant_type": "client_credentials"}
    ok = client.post("/oauth2/token", data=form, auth=credentials)
    assert ok.status_code == 200
    disabled = client.post(
        f"/api/v1/auth/clients/{created['clientId']}/disable", headers=bearer(admin_token)
    )
    assert disabled.status_code == 200
    assert disabled.json["status"] == "DISABLED"
    refused = client.post("/oauth2/token", data=form, auth=credentials)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    # The services learn it from user-status, as they learn of a deactivated account; auth's
    # own checks see it at once. Disabling again changes nothing.
    assert auth_container.core.inactive_users().is_inactive(f"client:{created['clientId']}")
    assert not auth_container.core.inactive_users().is_inactive(created["clientId"])
    client.post(f"/api/v1/auth/clients/{created['clientId']}/disable", headers=bearer(admin_token))
    with auth_container.core.database().connect() as connection:
        events = (
            connection.execute(
                text("SELECT payload FROM outbox WHERE topic = 'user-status' AND message_key = :c"),
                {"c": created["clientId"]},
            )
            .scalars()
            .all()
        )
    [event] = events
    assert (event["eventType"], event["user_id"], event["status"], event["role"]) == (
        "USER_STATUS_CHANGED",
        created["clientId"],
        "INACTIVE",
        "client",
    )
    assert event["changedBy"]


def create_client(client, admin_token, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/clients", json={"name": "Spa", **body}, headers=bearer(admin_token)
    )
    assert response.status_code == 201, response.json
    return dict(response.json)


def token_claims(client, client_id: str, secret: str) -> Any:
    response = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    if response.status_code != 200:
        return response.status_code
    return jwt.decode(response.json["access_token"], options={"verify_signature": False})


def test_a_clients_scopes_event_sources_and_name_can_be_changed(
    client, admin_token, auth_container
):
    created = create_client(
        client,
        admin_token,
        scopes=["rewards.read", "rewards.write"],
        eventSources=["CASINO", "DINING", "HOTEL"],
    )
    path = f"/api/v1/auth/clients/{created['clientId']}"

    def patch(body: Any, token: str = admin_token) -> Any:
        return client.patch(path, json=body, headers=bearer(token))

    narrowed = patch({"eventSources": ["HOTEL"], "name": "Hotel PMS"})
    assert narrowed.status_code == 200, narrowed.json
    assert (narrowed.json["eventSources"], narrowed.json["name"]) == (["HOTEL"], "Hotel PMS")
    assert narrowed.json["scopes"] == ["rewards.read", "rewards.write"]
    assert narrowed.json["updatedAt"] >= created["createdAt"]
    assert (
        narrowed.json["updatedBy"]
        == client.get("/api/v1/auth/me", headers=bearer(admin_token)).json["id"]
    )
    secret = created["clientSecret"]
    assert token_claims(client, created["clientId"], secret)["event_sources"] == ["HOTEL"]
    assert client.get(path, headers=bearer(admin_token)).json["eventSources"] == ["HOTEL"]
    # Taking a right away revokes the tokens that carry it; renaming or adding does not.
    held = token_claims(client, created["clientId"], secret)
    into_the_next_second()
    account = f"client:{created['clientId']}"
    accounts = auth_container.core.inactive_users()
    assert patch({"name": "Hotel PMS 2"}).status_code == 200
    assert patch({"scopes": ["rewards.read", "rewards.write", "rewards.redeem"]}).status_code == 200
    assert not accounts.tokens_revoked(account, held["iat"])
    assert patch({"scopes": ["rewards.read", "rewards.write"]}).status_code == 200
    assert accounts.tokens_revoked(account, held["iat"])

    # Without rewards.write a client sends no events, so its event sources go with it…
    read_only = patch({"scopes": ["rewards.read"]})
    assert (read_only.json["scopes"], read_only.json["eventSources"]) == (["rewards.read"], [])
    claims = token_claims(client, created["clientId"], secret)
    assert claims["scope"] == "rewards.read"
    assert "event_sources" not in claims
    # …and giving it back needs them named again.
    for body, code in [
        ({"scopes": ["rewards.write"]}, "AUTH_INVALID_EVENT_SOURCES"),
        ({"eventSources": ["DINING"]}, "AUTH_INVALID_EVENT_SOURCES"),
        ({}, "VALIDATION_FAILED"),
        ({"scopes": []}, "VALIDATION_FAILED"),
        ({"scopes": ["root"]}, "VALIDATION_FAILED"),
        ({"name": " "}, "VALIDATION_FAILED"),
        ({"status": "ACTIVE"}, "VALIDATION_FAILED"),
        ({"clientSecret": "mine"}, "VALIDATION_FAILED"),
    ]:
        refused = patch(body)
        assert (refused.status_code, refused.json["error"]["code"]) == (422, code), body
    writes_again = patch({"scopes": ["rewards.write"], "eventSources": ["DINING"]})
    assert writes_again.status_code == 200
    assert token_claims(client, created["clientId"], secret)["event_sources"] == ["DINING"]

    staff = token_for(client, "staff", admin_token)
    assert patch({"name": "Mine"}, staff).status_code == 403
    assert client.patch(path, json={"name": "X"}).status_code == 401
    missing = client.patch(
        "/api/v1/auth/clients/nobody", json={"name": "X"}, headers=bearer(admin_token)
    )
    assert (missing.status_code, missing.json["error"]["code"]) == (404, "AUTH_CLIENT_NOT_FOUND")
    assert client.get("/api/v1/auth/clients/nobody", headers=bearer(admin_token)).status_code == 404


def test_rotating_a_secret_retires_the_old_one_and_shows_the_new_one_once(
    client, admin_token, auth_container
):
    created = create_client(client, admin_token, scopes=["rewards.read"])
    client_id, old_secret = created["clientId"], created["clientSecret"]
    assert isinstance(token_claims(client, client_id, old_secret), dict)
    held = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, old_secret)
    ).json["access_token"]
    into_the_next_second()
    rotate = f"/api/v1/auth/clients/{client_id}/secret"
    staff = token_for(client, "staff", admin_token)
    assert client.post(rotate, headers=bearer(staff)).status_code == 403

    rotated = client.post(rotate, headers=bearer(admin_token))
    assert rotated.status_code == 200
    new_secret = rotated.json["clientSecret"]
    assert len(new_secret) >= 40
    assert new_secret != old_secret
    assert rotated.json["secretRotatedAt"]
    assert token_claims(client, client_id, old_secret) == 401
    assert isinstance(token_claims(client, client_id, new_secret), dict)
    # The token issued with the old secret is revoked (refused by every service within
    # seconds); one issued with the new secret is not.
    assert auth_container.core.inactive_users().tokens_revoked(
        f"client:{client_id}", jwt.decode(held, options={"verify_signature": False})["iat"]
    )
    fresh = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, new_secret)
    ).json["access_token"]
    for token, active in ((held, False), (fresh, True)):
        inspected = client.post(
            "/oauth2/introspect", data={"token": token}, auth=(client_id, new_secret)
        )
        assert inspected.json["active"] is active
    listed = client.get("/api/v1/auth/clients", headers=bearer(admin_token)).json
    assert new_secret not in str(listed)
    with auth_container.core.database().connect() as connection:
        stored = connection.execute(
            text("SELECT secret_hash FROM partner_clients WHERE client_id = :c"), {"c": client_id}
        ).scalar_one()
    assert new_secret not in stored
    missing = client.post("/api/v1/auth/clients/nobody/secret", headers=bearer(admin_token))
    assert missing.status_code == 404


def test_a_planned_rotation_lets_both_secrets_work_for_a_while_and_revokes_nothing(
    client, admin_token, auth_container
):
    created = create_client(client, admin_token, scopes=["rewards.read"])
    client_id, old_secret = created["clientId"], created["clientSecret"]
    held = token_claims(client, client_id, old_secret)
    into_the_next_second()
    rotate = f"/api/v1/auth/clients/{client_id}/secret"
    bodies: list[Any] = [
        {"previousSecretValidForSeconds": -1},
        {"previousSecretValidForSeconds": 604_801},
        {"previousSecretValidForSeconds": "3600"},
        {"previousSecretValidForSeconds": True},
        {"previousSecretValidForSeconds": 1.5},
        {"keepTokens": True},
        [],
    ]
    for body in bodies:
        refused = client.post(rotate, json=body, headers=bearer(admin_token))
        assert (refused.status_code, refused.json["error"]["code"]) == (
            422,
            "VALIDATION_FAILED",
        ), body
    rotated = client.post(
        rotate, json={"previousSecretValidForSeconds": 3600}, headers=bearer(admin_token)
    )
    assert rotated.status_code == 200, rotated.json
    assert rotated.json["previousSecretExpiresAt"] > rotated.json["secretRotatedAt"]
    new_secret = rotated.json["clientSecret"]
    assert isinstance(token_claims(client, client_id, old_secret), dict)
    assert isinstance(token_claims(client, client_id, new_secret), dict)
    accounts = auth_container.core.inactive_users()
    assert not accounts.tokens_revoked(f"client:{client_id}", held["iat"])
    assert published_on_user_status(auth_container, client_id, "eventType") == []

    with auth_container.core.database().begin() as connection:  # as if the hour had passed
        connection.execute(
            text(
                "UPDATE partner_clients SET previous_secret_expires_at = now() WHERE client_id = :c"
            ),
            {"c": client_id},
        )
    auth_container.client_lookups().invalidate(client_id)
    assert token_claims(client, client_id, old_secret) == 401
    assert isinstance(token_claims(client, client_id, new_secret), dict)

    # Without a body, or with 0, it is a leak: the previous secret stops, tokens are revoked.
    leaked = client.post(rotate, headers=bearer(admin_token))
    assert leaked.json["previousSecretExpiresAt"] is None
    assert token_claims(client, client_id, new_secret) == 401
    assert accounts.tokens_revoked(f"client:{client_id}", held["iat"])
    again = client.post(
        rotate, json={"previousSecretValidForSeconds": 0}, headers=bearer(admin_token)
    )
    assert again.json["previousSecretExpiresAt"] is None
    assert token_claims(client, client_id, leaked.json["clientSecret"]) == 401


def test_enabling_a_client_again_does_not_bring_back_the_tokens_it_held(
    client, admin_token, auth_container
):
    created = create_client(client, admin_token, scopes=["rewards.read"])
    client_id, secret = created["clientId"], created["clientSecret"]
    account = f"client:{client_id}"
    accounts = auth_container.core.inactive_users()
    enable = f"/api/v1/auth/clients/{client_id}/enable"
    already = client.post(enable, headers=bearer(admin_token))
    assert (already.status_code, already.json["status"]) == (200, "ACTIVE")
    held = token_claims(client, client_id, secret)
    into_the_next_second()
    disabled = client.post(f"/api/v1/auth/clients/{client_id}/disable", headers=bearer(admin_token))
    assert disabled.json["disabledAt"]
    assert accounts.is_inactive(account)
    # A secret can be rotated while disabled (after a leak), without enabling anything.
    rotated = client.post(f"/api/v1/auth/clients/{client_id}/secret", headers=bearer(admin_token))
    assert rotated.json["status"] == "DISABLED"
    secret = rotated.json["clientSecret"]
    assert token_claims(client, client_id, secret) == 401

    staff = token_for(client, "staff", admin_token)
    assert client.post(enable, headers=bearer(staff)).status_code == 403
    enabled = client.post(enable, headers=bearer(admin_token))
    assert enabled.status_code == 200, enabled.json
    assert (enabled.json["status"], enabled.json["disabledAt"]) == ("ACTIVE", None)
    fresh = token_claims(client, client_id, secret)
    assert isinstance(fresh, dict)
    # Active again, but the token it held before stays refused; the new one is not.
    assert not accounts.is_inactive(account)
    assert accounts.tokens_revoked(account, held["iat"])
    assert not accounts.tokens_revoked(account, fresh["iat"])
    # The revocation comes before the status: no service sees the client active with its old
    # tokens still good.
    assert published_on_user_status(auth_container, client_id, "eventType", "status", "reason") == [
        ("USER_STATUS_CHANGED", "INACTIVE", None),
        ("TOKENS_REVOKED", None, "SECRET_ROTATED"),
        ("TOKENS_REVOKED", None, "CLIENT_ENABLED"),
        ("USER_STATUS_CHANGED", "ACTIVE", None),
    ]


def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(
    client, admin_token
):
    old_kid = jwt.get_unverified_header(admin_token)["kid"]
    rotated = client.post("/api/v1/auth/keys/rotate", headers=bearer(admin_token))
    assert rotated.status_code == 201
    new_kid = rotated.json["kid"]
    assert new_kid != old_kid
    published = {k["kid"] for k in client.get("/.well-known/jwks.json").json["keys"]}
    assert {old_kid, new_kid} <= published
    # A token signed with the retiring key still works.
    assert client.get("/api/v1/auth/me", headers=bearer(admin_token)).status_code == 200
    listed = client.get("/api/v1/auth/keys", headers=bearer(admin_token)).json
    assert {k["kid"]: k["status"] for k in listed}[old_kid] == "RETIRING"
    email = unique_email()
    register(client, email)
    fresh = login(client, email).json["accessToken"]
    assert jwt.get_unverified_header(fresh)["kid"] == new_kid


def test_a_client_may_be_registered_with_the_secret_the_deployment_keeps(client, admin_token):
    kept = "Kq7vN2xR9pL4mT8wZ3cF6hJ1sD5gB0yA"
    body = {"name": "Spa", "scopes": ["rewards.read"], "clientId": "spa-kept"}
    short = client.post(
        "/api/v1/auth/clients", json={**body, "clientSecret": "short"}, headers=bearer(admin_token)
    )
    assert short.status_code == 422
    # Long enough, and no secret at all: blank, a line break, a pattern of a few characters.
    for weak in (
        " " * 32,
        "\t" * 40,
        kept + "\n",
        kept[:16] + " " + kept[16:],
        "ab" * 16,
        "1234567" * 5,
    ):
        refused = client.post(
            "/api/v1/auth/clients", json={**body, "clientSecret": weak}, headers=bearer(admin_token)
        )
        assert refused.status_code == 422, weak
        assert refused.json["error"]["code"] == "AUTH_WEAK_CLIENT_SECRET", weak
    created = client.post(
        "/api/v1/auth/clients", json={**body, "clientSecret": kept}, headers=bearer(admin_token)
    )
    assert created.status_code == 201
    assert created.json["clientSecret"] == kept
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=("spa-kept", kept)
    )
    assert token.status_code == 200
