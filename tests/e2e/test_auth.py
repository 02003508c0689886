"""The identity service as real processes: gunicorn web, the outbox worker, Kafka."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.support.e2e import bearer, wait_until, welcomed_player
from tests.support.kafka import TopicProbe
from tests.support.tokens import into_the_next_second
from tests.support.websocket import Closed, connect, next_event, socket_url

REVOKED = "The access token was revoked; sign in again."
PASSWORD = "correct horse battery"


def test_registration_reaches_kafka_through_the_worker(platform):
    probe = TopicProbe(platform.infra.kafka_bootstrap, "players")
    try:
        email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
        response = requests.post(
            f"{platform.url('auth')}/api/v1/auth/register",
            json={"email": email, "password": PASSWORD},
            headers={"X-Correlation-ID": "e2e-register"},
            timeout=10,
        )
        assert response.status_code == 201
        user_id = response.json()["id"]
        record = probe.wait_for(lambda r: r["value"]["user_id"] == user_id)[0]
    finally:
        probe.close()
    assert record["value"]["eventType"] == "PLAYER_REGISTERED"
    assert record["value"]["correlationId"] == "e2e-register"


def test_the_server_sends_no_banner_and_security_headers(platform):
    response = requests.get(f"{platform.url('auth')}/health/live", timeout=5)
    assert "Server" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_concurrent_refreshes_over_http_let_exactly_one_through(platform):
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    base = platform.url("auth")
    requests.post(
        f"{base}/api/v1/auth/register", json={"email": email, "password": PASSWORD}, timeout=10
    ).raise_for_status()
    login = requests.post(
        f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10
    )
    token = (
        login.cookies.get("refresh_token")
        or login.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    )
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def attempt() -> None:
        barrier.wait()
        statuses.append(
            requests.post(
                f"{base}/api/v1/auth/refresh",
                headers={"Cookie": f"refresh_token={token}"},
                timeout=10,
            ).status_code
        )

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 401, 401, 401, 401, 401]


def test_partner_token_and_introspection_over_http(platform):
    token = platform.client_token("hotel", scope="rewards.write")
    hotel = platform.credentials["clients"]["hotel"]
    response = requests.post(
        f"{platform.url('auth')}/oauth2/introspect",
        data={"token": token},
        auth=(hotel["clientId"], hotel["clientSecret"]),
        timeout=10,
    )
    assert response.json()["active"] is True
    assert response.json()["scope"] == "rewards.write"


def new_reading_partner(platform, name: str) -> tuple[dict[str, str], dict[str, Any]]:
    """An admin's headers and a new client that may read and redeem (with its secret)."""
    admin = {"Authorization": f"Bearer {platform.admin_token()}"}
    created = requests.post(
        f"{platform.url('auth')}/api/v1/auth/clients",
        json={"name": name, "scopes": ["rewards.read", "rewards.redeem"]},
        headers=admin,
        timeout=10,
    ).json()
    return admin, created


def partner_reads(platform, partner: dict[str, str]) -> list[str]:
    """A read at rewards and one at redeem, checked to accept ``partner``'s token now."""
    reads = [
        f"{platform.url('rewards')}/api/v1/rewards/{uuid.uuid4()}",
        f"{platform.url('redeem')}/api/v1/redemptions?playerId={uuid.uuid4()}",
    ]
    for url in reads:
        assert requests.get(url, headers=partner, timeout=10).status_code in {200, 404}
    return reads


def test_a_disabled_partner_clients_tokens_are_refused_by_every_service_within_seconds(platform):
    admin, created = new_reading_partner(platform, "Leaked")
    token = requests.post(
        f"{platform.url('auth')}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(created["clientId"], created["clientSecret"]),
        timeout=10,
    ).json()["access_token"]
    partner = {"Authorization": f"Bearer {token}"}
    reads = dict(zip(("rewards", "redeem"), partner_reads(platform, partner), strict=True))
    into_the_next_second()
    disabled = requests.post(
        f"{platform.url('auth')}/api/v1/auth/clients/{created['clientId']}/disable",
        headers=admin,
        timeout=10,
    )
    assert disabled.status_code == 200

    def refused_everywhere():
        answers = [requests.get(url, headers=partner, timeout=10) for url in reads.values()]
        return all(
            a.status_code == 401 and a.json()["error"]["code"] == "ACCOUNT_INACTIVE"
            for a in answers
        )

    wait_until(refused_everywhere, timeout=30, what="the client's token refused")

    # After a leak: a new secret, and the same client back at once; the token it held
    # (perhaps the thief's) does not come back with it.
    client_path = f"{platform.url('auth')}/api/v1/auth/clients/{created['clientId']}"
    rotated = requests.post(f"{client_path}/secret", headers=admin, timeout=10).json()
    assert requests.post(f"{client_path}/enable", headers=admin, timeout=10).status_code == 200

    def token_with(secret: str) -> requests.Response:
        return requests.post(
            f"{platform.url('auth')}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(created["clientId"], secret),
            timeout=10,
        )

    # Each auth web process forgets the client when it hears the change announced (its lookup
    # would otherwise last security.client_cache_seconds, 10 s).
    def switched() -> str | None:
        old, new = token_with(created["clientSecret"]), token_with(rotated["clientSecret"])
        return (
            new.json()["access_token"] if (old.status_code, new.status_code) == (401, 200) else None
        )

    new_token = wait_until(switched, timeout=30, interval=0.5, what="only the new secret working")
    fresh = {"Authorization": f"Bearer {new_token}"}

    def accepted_everywhere():
        answers = [requests.get(url, headers=fresh, timeout=10) for url in reads.values()]
        return all(a.status_code in {200, 404} for a in answers)

    wait_until(accepted_everywhere, timeout=30, what="the enabled client's new token accepted")
    for url in reads.values():
        answer = requests.get(url, headers=partner, timeout=10)
        assert (answer.status_code, answer.json()["error"]["code"]) == (401, "TOKEN_REVOKED")


def test_a_password_change_signs_out_other_devices_and_tells_the_owner(platform):
    player = welcomed_player(platform)
    other_device = requests.post(
        f"{platform.url('auth')}/api/v1/auth/login",
        json={"email": player.email, "password": PASSWORD},
        timeout=10,
    )
    old = bearer(other_device.json()["accessToken"])
    reads = {
        "auth": f"{platform.url('auth')}/api/v1/auth/me",
        "rewards": f"{platform.url('rewards')}/api/v1/rewards/{player.id}",
        "redeem": f"{platform.url('redeem')}/api/v1/wallet/me",
        "notification": f"{platform.url('notification')}/api/v1/notifications",
    }
    for url in reads.values():
        assert requests.get(url, headers=old, timeout=10).status_code == 200, url
    old_socket = connect(socket_url(platform.url("notification")), old["Authorization"][7:])
    into_the_next_second()
    changed = requests.post(
        f"{platform.url('auth')}/api/v1/auth/me/password",
        json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"},
        headers=player.headers,
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    refreshed = requests.post(
        f"{platform.url('auth')}/api/v1/auth/refresh",
        cookies={"refresh_token": other_device.cookies["refresh_token"]},
        timeout=10,
    )
    assert refreshed.status_code == 401
    fresh = bearer(changed.json()["accessToken"])

    # The access tokens issued before the change are refused by every service within
    # seconds, and the socket opened with one is closed; the new session's are not.
    def refused_everywhere() -> bool:
        answers = [requests.get(url, headers=old, timeout=10) for url in reads.values()]
        return all(
            a.status_code == 401 and a.json()["error"]["code"] == "TOKEN_REVOKED" for a in answers
        )

    try:
        # The socket may hear "Your password was changed" first (another topic), then closes.
        heard = [next_event(old_socket, timeout=30)]
        if not isinstance(heard[0], Closed):
            assert heard[0]["notification"]["type"] == "PASSWORD_CHANGED"
            heard.append(next_event(old_socket, timeout=30))
        assert heard[-1] == Closed(4401, REVOKED)
    finally:
        old_socket.close()
    wait_until(refused_everywhere, timeout=30, what="the old access token refused everywhere")
    for url in reads.values():
        assert requests.get(url, headers=fresh, timeout=10).status_code == 200, url

    def told() -> list[dict[str, object]]:
        listed = requests.get(
            f"{platform.url('notification')}/api/v1/notifications", headers=fresh, timeout=10
        )
        assert listed.status_code == 200, listed.text
        return [n for n in listed.json()["notifications"] if n["type"] == "PASSWORD_CHANGED"]

    [notice] = wait_until(told, timeout=30, what="the password-change notification")
    assert notice["title"] == "Your password was changed"
    assert notice["read"] is False


def test_a_rotated_secret_revokes_the_partner_tokens_issued_with_the_old_one(platform):
    admin, created = new_reading_partner(platform, "Rotated")

    def token_with(secret: str) -> dict[str, str] | None:
        response = requests.post(
            f"{platform.url('auth')}/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(created["clientId"], secret),
            timeout=10,
        )
        return bearer(response.json()["access_token"]) if response.status_code == 200 else None

    held = token_with(created["clientSecret"])
    assert held is not None
    # Requests side by side reach every auth web process: each caches the client's lookup.
    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(lambda _: token_with(created["clientSecret"]), range(32)))
    reads = partner_reads(platform, held)
    into_the_next_second()
    rotated = requests.post(
        f"{platform.url('auth')}/api/v1/auth/clients/{created['clientId']}/secret",
        headers=admin,
        timeout=10,
    )
    assert rotated.status_code == 200, rotated.text

    def refused_everywhere() -> bool:
        answers = [requests.get(url, headers=held, timeout=10) for url in reads]
        return all(
            a.status_code == 401 and a.json()["error"]["code"] == "TOKEN_REVOKED" for a in answers
        )

    wait_until(refused_everywhere, timeout=30, what="the old secret's token refused")

    # Every auth process forgets the client when it hears the rotation announced, long before
    # its lookup would expire (security.client_cache_seconds, 10 s).
    def old_secret_refused_by_all() -> bool:
        with ThreadPoolExecutor(16) as pool:
            return not any(pool.map(lambda _: token_with(created["clientSecret"]), range(32)))

    wait_until(old_secret_refused_by_all, timeout=5, what="the old secret refused by all")
    fresh = token_with(rotated.json()["clientSecret"])
    assert fresh is not None
    for url in reads:
        assert requests.get(url, headers=fresh, timeout=10).status_code in {200, 404}


def test_logs_are_json_lines_with_the_correlation_id(platform):
    requests.get(
        f"{platform.url('auth')}/api/v1/auth/nowhere",
        headers={"X-Correlation-ID": "log-check-1"},
        timeout=5,
    )
    log = platform.cluster.process("auth-web").log_path
    assert log is not None
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    mine = [entry for entry in lines if entry.get("correlation_id") == "log-check-1"]
    assert mine
    assert mine[0]["service"] == "auth"
    assert mine[0]["status"] == 404
    assert mine[0]["error_code"] == "NOT_FOUND"


def test_a_refused_partner_request_is_logged_with_its_code_and_client(platform):
    # What an operator searches for when a partner client misbehaves (partner runbook).
    token = platform.client_token("hotel", scope="rewards.write")
    refused = requests.get(
        f"{platform.url('auth')}/api/v1/auth/users",
        headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "log-check-2"},
        timeout=5,
    )
    assert refused.status_code == 403
    log = platform.cluster.process("auth-web").log_path
    assert log is not None
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    [line] = [
        e for e in lines if e.get("correlation_id") == "log-check-2" and e["event"] == "request"
    ]
    assert line["status"] == 403
    assert line["error_code"] == refused.json()["error"]["code"]
    assert line["client_id"] == platform.credentials["clients"]["hotel"]["clientId"]


def test_the_worker_stops_cleanly_on_sigterm(platform):
    from embedded.services import SERVICES, start_worker

    spec = next(s for s in SERVICES if s.name == "auth")
    env = {**platform.cluster.env.for_service(spec), "LOG_LEVEL": "INFO"}
    worker = start_worker(spec, env, platform.cluster.log_dir, name="auth-worker-sigterm")
    assert worker.log_path is not None
    try:
        deadline = time.monotonic() + 30
        while "worker_started" not in worker.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.process.wait(20) == 0
        assert "worker_stopped" in worker.log_path.read_text()
    finally:
        worker.stop()
