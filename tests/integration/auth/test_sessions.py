"""Login, refresh rotation, replay detection, logout and brute-force protection."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import jwt
import pytest
from sqlalchemy import text

from auth_service.application.commands import CreateClient
from auth_service.domain.exceptions import TooManyAttempts
from tests.integration.auth.conftest import AUDIENCE, ISSUER, bearer, login, register, unique_email
from tests.support.tokens import into_the_next_second

PASSWORD = "correct horse battery"


def refresh_cookie(response) -> str:
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("refresh_token=")
    )
    return str(header.split(";", 1)[0].split("=", 1)[1])


def refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", headers={"Cookie": f"refresh_token={token}"})


@pytest.fixture
def player(client):
    email = unique_email()
    user = register(client, email).json
    return {"email": email, "id": user["id"]}


def test_login_returns_a_short_lived_rs256_token_with_the_expected_claims(client, player, auth_app):
    response = login(client, player["email"])
    assert response.status_code == 200
    body = response.json
    assert body["tokenType"] == "Bearer"
    assert 0 < body["expiresIn"] <= 900
    token = body["accessToken"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["kid"]
    keys = client.get("/.well-known/jwks.json").json["keys"]
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == header["kid"]))
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == player["id"]
    assert claims["role"] == "player"
    assert claims["jti"]
    assert claims["exp"] - claims["iat"] == body["expiresIn"]


def test_the_refresh_token_is_an_httponly_secure_samesite_cookie_stored_in_redis(
    client, player, auth_container
):
    response = login(client, player["email"])
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("refresh_token=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "SameSite=Strict" in header
    assert "refresh" not in str(response.json).lower()  # never in the body
    token = refresh_cookie(response)
    redis = auth_container.core.redis()
    key = f"rt:{hashlib.sha256(token.encode()).hexdigest()}"
    assert redis.hget(key, "user") == player["id"]
    assert 0 < redis.ttl(key) <= 1209600
    assert not redis.keys(f"*{token}*")  # only its hash is stored


def test_wrong_password_and_unknown_email_get_the_same_generic_error(client, player):
    wrong = login(client, player["email"], "not the right password")
    unknown = login(client, unique_email(), PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json["error"]["code"] == unknown.json["error"]["code"] == "AUTH_INVALID_CREDENTIALS"
    )
    assert wrong.json["error"]["message"] == unknown.json["error"]["message"]


def test_repeated_failures_lock_the_account_with_retry_after(client, player):
    for _ in range(5):
        assert login(client, player["email"], "wrong password!!").status_code == 401
    locked = login(client, player["email"], PASSWORD)
    assert locked.status_code == 429
    assert locked.json["error"]["code"] == "AUTH_TOO_MANY_ATTEMPTS"
    assert 0 < int(locked.headers["Retry-After"]) <= 900


def test_concurrent_guesses_never_check_more_passwords_than_the_limit(auth_container):
    throttle = auth_container.login_throttle()
    limit = auth_container.config.login.max_failures_per_account()
    email = unique_email()
    barrier = threading.Barrier(24)

    def attempt(_: int) -> bool:
        barrier.wait()
        try:
            throttle.check(email, None)
        except TooManyAttempts:
            return False
        throttle.record_failure(email, None)
        return True

    with ThreadPoolExecutor(24) as pool:
        admitted = sum(pool.map(attempt, range(24)))
    assert admitted == limit
    with pytest.raises(TooManyAttempts):
        throttle.check(email, None)


def test_an_address_spraying_many_accounts_is_locked_out(client, auth_container):
    throttle = auth_container.login_throttle()
    limit = auth_container.config.login.max_failures_per_address()
    for i in range(limit):
        throttle.check(f"victim{i}@example.com", "203.0.113.9")
        throttle.record_failure(f"victim{i}@example.com", "203.0.113.9")
    email = unique_email()
    register(client, email)
    response = client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 429
    # Another address is not affected.
    assert login(client, email).status_code == 200


def test_refresh_rotates_the_token(client, player):
    first = refresh_cookie(login(client, player["email"]))
    response = refresh(client, first)
    assert response.status_code == 200
    second = refresh_cookie(response)
    assert second != first
    assert response.json["accessToken"]
    # The old one stops working.
    assert refresh(client, first).status_code == 401


def test_replaying_an_old_token_revokes_the_whole_family(client, player):
    first = refresh_cookie(login(client, player["email"]))
    second = refresh_cookie(refresh(client, first))
    replay = refresh(client, first)
    assert replay.status_code == 401
    assert replay.json["error"]["code"] == "AUTH_REFRESH_TOKEN_REUSED"
    # The thief's replay also killed the legitimate descendant.
    assert refresh(client, second).status_code == 401
    # A separate session (another device) is untouched.
    other = refresh_cookie(login(client, player["email"]))
    assert refresh(client, other).status_code == 200


def test_two_concurrent_refreshes_with_one_token_let_exactly_one_through(auth_app, player):
    token = refresh_cookie(login(auth_app.test_client(), player["email"]))
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def attempt() -> None:
        local = auth_app.test_client(use_cookies=False)
        barrier.wait()
        statuses.append(refresh(local, token).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [401] * 7


def test_logout_deletes_the_refresh_token_and_clears_the_cookie(client, player, auth_container):
    token = refresh_cookie(login(client, player["email"]))
    response = client.post("/api/v1/auth/logout", headers={"Cookie": f"refresh_token={token}"})
    assert response.status_code == 204
    cleared = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("refresh_token=")
    )
    assert "Max-Age=0" in cleared
    key = f"rt:{hashlib.sha256(token.encode()).hexdigest()}"
    assert not auth_container.core.redis().exists(key)
    assert refresh(client, token).status_code == 401


def test_refresh_without_a_cookie_is_unauthenticated(client):
    response = client.post("/api/v1/auth/refresh")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "UNAUTHENTICATED"


def test_me_returns_the_account_of_the_token(client, player):
    token = login(client, player["email"]).json["accessToken"]
    response = client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 200
    assert response.json["id"] == player["id"]


def change_password(client, access: str, current: str, new: str):
    return client.post(
        "/api/v1/auth/me/password",
        json={"currentPassword": current, "newPassword": new},
        headers=bearer(access),
    )


def test_changing_the_password_ends_every_other_session_and_keeps_this_one(
    client, player, auth_container
):
    phone, laptop = login(client, player["email"]), login(client, player["email"])
    phone_access = phone.json["accessToken"]
    assert client.get("/api/v1/auth/me", headers=bearer(phone_access)).status_code == 200
    into_the_next_second()
    new_password = "a brand new passphrase"
    changed = change_password(client, laptop.json["accessToken"], PASSWORD, new_password)
    assert changed.status_code == 200, changed.json
    # The phone's access token is refused at once (every service follows TOKENS_REVOKED).
    refused = client.get("/api/v1/auth/me", headers=bearer(phone_access))
    assert (refused.status_code, refused.json["error"]["code"]) == (401, "TOKEN_REVOKED")
    assert changed.json["user"]["id"] == player["id"]
    # The phone's session is over; the laptop's continues under a new refresh token.
    assert refresh(client, refresh_cookie(phone)).status_code == 401
    assert refresh(client, refresh_cookie(laptop)).status_code == 401
    assert refresh(client, refresh_cookie(changed)).status_code == 200
    assert (
        client.get("/api/v1/auth/me", headers=bearer(changed.json["accessToken"])).status_code
        == 200
    )
    assert login(client, player["email"], PASSWORD).status_code == 401
    assert login(client, player["email"], new_password).status_code == 200
    # The owner is told, on every device (a change they did not make must not go unseen).
    with auth_container.core.database().connect() as connection:
        [notice] = (
            connection.execute(
                text(
                    "SELECT payload FROM outbox WHERE topic = 'notifications' AND message_key = :u"
                ),
                {"u": player["id"]},
            )
            .scalars()
            .all()
        )
    assert (notice["eventType"], notice["title"]) == (
        "PASSWORD_CHANGED",
        "Your password was changed",
    )
    assert set(notice["content"]) == {"changedAt"}
    with auth_container.core.database().connect() as connection:
        [revoked] = (
            connection.execute(
                text("SELECT payload FROM outbox WHERE topic = 'user-status' AND message_key = :u"),
                {"u": player["id"]},
            )
            .scalars()
            .all()
        )
    assert (revoked["eventType"], revoked["role"], revoked["reason"]) == (
        "TOKENS_REVOKED",
        "player",
        "PASSWORD_CHANGED",
    )
    issued_before = jwt.decode(changed.json["accessToken"], options={"verify_signature": False})
    assert revoked["issuedBefore"].startswith(
        datetime.fromtimestamp(issued_before["iat"], UTC).strftime("%Y-%m-%dT%H:%M:%S")
    )


def test_a_password_change_needs_the_current_password_and_counts_wrong_ones(client, player):
    access = login(client, player["email"]).json["accessToken"]
    for _ in range(5):
        wrong = change_password(client, access, "not my password", "a brand new passphrase")
        # 403, not 401: the token is fine, an app must not take this for a logout.
        assert (wrong.status_code, wrong.json["error"]["code"]) == (
            403,
            "AUTH_CURRENT_PASSWORD_WRONG",
        )
    locked = change_password(client, access, PASSWORD, "a brand new passphrase")
    assert (locked.status_code, locked.json["error"]["code"]) == (429, "AUTH_TOO_MANY_ATTEMPTS")
    assert login(client, player["email"]).status_code == 429  # the same lockout as logins


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"currentPassword": PASSWORD, "newPassword": "short"}, "VALIDATION_FAILED"),
        ({"currentPassword": PASSWORD, "newPassword": PASSWORD}, "AUTH_WEAK_PASSWORD"),
        ({"currentPassword": PASSWORD, "newPassword": "aaaaaaaaaaaa"}, "AUTH_WEAK_PASSWORD"),
        ({"currentPassword": PASSWORD}, "VALIDATION_FAILED"),
        ({"newPassword": "a brand new passphrase"}, "VALIDATION_FAILED"),
        ({"currentPassword": PASSWORD, "newPassword": "x" * 129}, "VALIDATION_FAILED"),
        (
            {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase", "id": 1},
            "VALIDATION_FAILED",
        ),
    ],
)
def test_a_new_password_follows_the_policy(client, player, body, code):
    access = login(client, player["email"]).json["accessToken"]
    response = client.post("/api/v1/auth/me/password", json=body, headers=bearer(access))
    assert (response.status_code, response.json["error"]["code"]) == (422, code)
    assert login(client, player["email"]).status_code == 200  # unchanged


def test_only_a_logged_in_user_changes_a_password(client, player, auth_container):
    body = {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}
    assert client.post("/api/v1/auth/me/password", json=body).status_code == 401
    clients = auth_container.client_service()
    created = clients.create(CreateClient(name="Spa", scopes=frozenset({"rewards.read"})), None)
    token = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(created.client.client_id, created.secret),
    ).json["access_token"]
    refused = client.post("/api/v1/auth/me/password", json=body, headers=bearer(token))
    assert refused.status_code == 403
    assert login(client, player["email"]).status_code == 200


def test_concurrent_changes_from_one_current_password_let_exactly_one_through(auth_app, player):
    access = login(auth_app.test_client(), player["email"]).json["accessToken"]
    barrier = threading.Barrier(4)
    answers: dict[str, int] = {}

    def attempt(n: int) -> None:
        local = auth_app.test_client(use_cookies=False)
        barrier.wait()
        new = f"new passphrase number {n}"
        answers[new] = change_password(local, access, PASSWORD, new).status_code

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers.values()) == [200, 403, 403, 403]
    [winner] = [new for new, status in answers.items() if status == 200]
    client = auth_app.test_client(use_cookies=False)
    assert login(client, player["email"], winner).status_code == 200
