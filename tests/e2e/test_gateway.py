"""Through the nginx gateway, as players and partners reach the platform: routing of every
service, forwarded headers, WebSocket upgrade, the gateway's own limits and errors; and what the
services' own servers refuse before any application code sees it."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import PASSWORD, Player, bearer, promotion_event
from tests.support.kafka import produce
from tests.support.websocket import SUBPROTOCOL, connect, next_event, socket_url

REQUESTS_IN_PROGRESS_PER_ADDRESS = int(
    re.search(  # type: ignore[union-attr]
        r"^limit_conn requests (\d+);",
        (Path(__file__).resolve().parents[2] / "infra/nginx/locations.conf").read_text(),
        re.M,
    ).group(1)
)


@pytest.fixture
def gateway(platform: RunningPlatform) -> str:
    if platform.gateway is None:
        pytest.skip("nginx is not installed (the test command installs it where it can)")
    return platform.gateway


def test_a_player_registers_logs_in_and_gets_a_notification_through_the_gateway(
    platform: RunningPlatform, gateway: str
) -> None:
    player = Player(gateway)  # registration and login through nginx
    me = requests.get(f"{gateway}/api/v1/auth/me", headers=player.headers, timeout=10)
    assert me.status_code == 200
    assert me.json()["id"] == player.id
    # The WebSocket upgrade through nginx, the token offered as a subprotocol as browsers do.
    ws = connect(socket_url(gateway), player.token, as_subprotocol=True)
    assert ws.getsubprotocol() == SUBPROTOCOL
    try:
        event = promotion_event(player.id, title="Through the gateway")
        produce(platform.infra.kafka_bootstrap, "notifications", event, key=player.id)
        while True:
            message = next_event(ws, timeout=20)
            assert isinstance(message, dict), message
            if message["notification"].get("title") == "Through the gateway":
                break
    finally:
        ws.close()


def test_every_service_is_routed_and_answers_in_the_envelope(gateway: str) -> None:
    for path, service_code in [
        ("/api/v1/auth/me", "UNAUTHENTICATED"),
        ("/api/v1/promotions", "UNAUTHENTICATED"),
        ("/api/v1/wallet/me", "UNAUTHENTICATED"),
        ("/api/v1/notifications", "UNAUTHENTICATED"),
    ]:
        response = requests.get(f"{gateway}{path}", timeout=10)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == service_code
    for docs in (
        "/auth/api-docs",
        "/rewards/api-docs",
        "/redeem/api-docs",
        "/notification/api-docs",
    ):
        assert requests.get(f"{gateway}{docs}", timeout=10).status_code == 200, docs
    assert requests.get(f"{gateway}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert requests.get(f"{gateway}/health", timeout=10).status_code == 200


def test_the_gateway_forwards_the_correlation_id_and_sets_security_headers(gateway: str) -> None:
    response = requests.get(
        f"{gateway}/api/v1/promotions", headers={"X-Correlation-ID": "gw-1"}, timeout=10
    )
    assert response.headers["X-Correlation-ID"] == "gw-1"
    assert response.json()["error"]["correlationId"] == "gw-1"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers.get("Server", "nginx") == "nginx"  # no version banner
    # On the gateway's own answers too, not only on what a service sent.
    own = requests.get(f"{gateway}/no-such-route", timeout=10)
    assert own.status_code == 404
    assert own.headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert own.headers["X-Frame-Options"] == "DENY"


def test_the_docs_pages_scripts_are_sent_compressed(gateway: str) -> None:
    bundle = requests.get(
        f"{gateway}/rewards/api-docs/assets/swagger-ui-bundle.js",
        headers={"Accept-Encoding": "gzip"},
        timeout=10,
        stream=True,
    )
    assert bundle.status_code == 200
    assert bundle.headers["Content-Encoding"] == "gzip"
    bundle.close()


def test_the_wallet_grpc_port_is_never_routed(gateway: str) -> None:
    response = requests.post(
        f"{gateway}/loyalty.wallet.v1.Wallet/AddTransaction",
        headers={"Content-Type": "application/grpc"},
        data=b"",
        timeout=10,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


def listening_hosts(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp*)."""
    hosts: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as lines:
            for line in list(lines)[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                    hosts.add(address)
    return hosts


def test_behind_the_gateway_the_services_listen_on_loopback_only(
    platform: RunningPlatform, gateway: str
) -> None:
    # Otherwise anyone on the network could reach a service directly, with an
    # X-Forwarded-For of their choosing (the services trust one proxy hop).
    loopback = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
    ports = [urlsplit(str(entry["url"])).port for entry in platform.endpoints.values()]
    ports += [
        urlsplit(str(entry["workerMetrics"])).port
        for entry in platform.endpoints.values()
        if "workerMetrics" in entry
    ]
    assert ports
    for port in ports:
        assert port is not None
        assert listening_hosts(port) == {loopback}, port


def test_an_oversized_body_is_refused_at_the_gateway(gateway: str) -> None:
    response = requests.post(
        f"{gateway}/api/v1/auth/register",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_bodies_over_a_service_limit_stop_at_the_gateway_and_fail_nothing_else(
    gateway: str,
) -> None:
    # Over auth's 64 KiB but under the gateway's general 1 MiB: before each route had its
    # service's limit, the service left such a body unread and closed the keep-alive
    # connection, and the gateway's next request on it failed (503).
    session = requests.Session()
    for _ in range(20):
        oversized = session.post(
            f"{gateway}/api/v1/auth/register",
            data=b"x" * 100_000,
            headers={"Content-Type": "text/plain"},
            timeout=10,
        )
        assert oversized.status_code == 413
        assert oversized.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        following = session.post(
            f"{gateway}/api/v1/auth/register",
            json={"email": "not-an-email"},
            timeout=10,
        )
        assert following.status_code == 422


def test_a_body_refused_unread_leaves_the_keep_alive_connection_usable(
    platform: RunningPlatform,
) -> None:
    # Under rewards' 512 KiB limit but over the 64 KiB the web worker drains by itself: the
    # request is refused (no valid token) before its body is read.
    address = urlsplit(platform.url("rewards"))
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/api/v1/rewards/events",
            body=b"x" * 200_000,
            headers={"Content-Type": "text/plain", "Authorization": "Bearer not-a-token"},
        )
        refused = connection.getresponse()
        refused.read()
        assert refused.status == 401
        assert refused.getheader("Connection", "").lower() != "close"
        socket_before = connection.sock
        connection.request("GET", "/health/live")
        after = connection.getresponse()
        after.read()
        assert after.status == 200
        assert connection.sock is socket_before  # the same connection, not a new one
    finally:
        connection.close()


def _exchange(address: tuple[str, int], request: bytes) -> tuple[str, dict[str, str], bytes]:
    """One request on a new connection, read until the server closes it (or 5 s pass)."""
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}, body


@pytest.mark.parametrize("service", ["auth", "notification"])  # a gthread and a gevent server
def test_a_body_over_the_limit_is_refused_and_the_connection_left_as_announced(
    platform: RunningPlatform, service: str
) -> None:
    # Straight to the service, as a load balancer without a body limit sends it. A body over
    # the limit is refused unread; it used to leave the connection closed right after a
    # response that announced keep-alive, and the client's next request on it failed.
    url = platform.url(service)
    split = urlsplit(url)
    address = (split.hostname or "", split.port or 80)
    head = b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    session = requests.Session()
    for _ in range(3):
        refused = session.post(
            f"{url}/api/v1/auth/register",
            data=b"x" * 300_000,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert refused.headers["Connection"] == "keep-alive"
        assert session.get(f"{url}/health/live", timeout=10).status_code == 200
    # More than the service reads to keep the connection (only the headers are sent), and
    # chunked (its size unknown): refused, and the connection closed as announced.
    huge = head + b"Content-Length: 50000000\r\n\r\n"
    chunked = (
        head
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + b"".join(b"10000\r\n" + b"x" * 0x10000 + b"\r\n" for _ in range(5))
        + b"0\r\n\r\n"
    )
    for kind, request in {"declared": huge, "chunked": chunked}.items():
        status, headers, body = _exchange(address, request)
        assert status.startswith("HTTP/1.1 413 "), (kind, status)
        assert headers["connection"] == "close", kind
        assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE", kind


@pytest.mark.parametrize("service", ["auth", "notification"])  # a gthread and a gevent server
@pytest.mark.parametrize("chunk", [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX"])
def test_a_body_the_server_cannot_read_is_the_clients_error(
    platform: RunningPlatform, service: str, chunk: bytes
) -> None:
    # A malformed chunk size, a chunk without its terminator: straight to the service (the
    # gateway refuses them itself). It used to be a 500 and an error with a traceback.
    split = urlsplit(platform.url(service))
    request = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunk
    )
    status, _, body = _exchange((split.hostname or "", split.port or 80), request)
    assert status.startswith("HTTP/1.1 400 "), status
    assert json.loads(body)["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("service", ["auth", "notification"])  # a gthread and a gevent server
def test_a_body_shorter_than_announced_is_refused_not_taken_as_complete(
    platform: RunningPlatform, service: str
) -> None:
    # Straight to the service: the client announces 60 bytes, sends a whole JSON document of
    # 35 and stops sending. The server read what came and went on as if nothing was missing.
    split = urlsplit(platform.url(service))
    body = b'{"email": "a@b.c", "password": "x"}'
    request = (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 60\r\nConnection: close\r\n\r\n" + body
    )
    with socket.create_connection((split.hostname or "", split.port or 80), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), head
    assert json.loads(payload)["error"]["code"] == "BAD_REQUEST"


def test_a_malformed_request_line_is_refused_in_the_envelope(gateway: str) -> None:
    # nginx refuses a NUL byte in the path itself, before any service sees it.
    response = requests.get(f"{gateway}/api/v1/rewards/%00abc", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST"
    assert "nginx" not in response.text
    address = urlsplit(gateway)
    for request in (
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"GET /api/v1/auth/login HTTP/2.0\r\nHost: x\r\n\r\n",
    ):
        status, headers, body = _exchange((address.hostname or "", address.port or 80), request)
        assert status.startswith("HTTP/1.1 400 "), (request, status)
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "BAD_REQUEST"
    # The gateway's own error pages are internal: asked for directly, they do not exist.
    direct = requests.get(f"{gateway}/_gateway/bad-request", timeout=10)
    assert direct.status_code == 404
    assert direct.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("service", ["auth", "notification"])  # a gthread and a gevent server
def test_what_a_service_cannot_parse_is_refused_in_the_envelope_on_its_own_port_too(
    platform: RunningPlatform, service: str
) -> None:
    address = urlsplit(platform.url(service))
    hostile = {
        414: b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        431: b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        400: b"GET /<script> HTTP/1.1 extra\r\n\r\n",
    }
    for status, request in hostile.items():
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:])
        assert lines[0].startswith(f"HTTP/1.1 {status} ")
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "Server" not in headers
        error = json.loads(body)["error"]
        assert error["code"] == "BAD_REQUEST"
        assert error["correlationId"] == headers["X-Correlation-ID"]
        assert b"<html>" not in body
        assert b"script" not in body  # nothing of the request echoed


def test_logins_from_one_address_are_rate_limited(gateway: str) -> None:
    # A different unknown email each time: the auth service's per-account lockout stays out of
    # the way, so what answers 429 is the gateway's per-address limit.
    statuses = [
        requests.post(
            f"{gateway}/api/v1/auth/login",
            json={"email": f"nobody-{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD},
            timeout=10,
        )
        for _ in range(40)
    ]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert limited[0].json()["error"]["code"] == "RATE_LIMITED"
    assert int(limited[0].headers["Retry-After"]) > 0


def test_one_address_cannot_hold_every_gateway_connection_with_slow_bodies(gateway: str) -> None:
    # Each request announces a body and sends a byte of it: within client_body_timeout, so
    # nginx keeps waiting. Past the per-address cap of requests in progress the next request is
    # refused at once, /health still answers, and closing them frees the address again.
    address = urlsplit(gateway)
    target = (address.hostname or "127.0.0.1", address.port or 80)
    head = (
        b"POST /api/v1/promotions HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    slow: list[socket.socket] = []
    try:
        for _ in range(REQUESTS_IN_PROGRESS_PER_ADDRESS):
            sock = socket.create_connection(target, timeout=5)
            sock.sendall(head)
            slow.append(sock)
            time.sleep(0.012)  # under the per-address request rate: only the cap may refuse
        refused = requests.get(f"{gateway}/api/v1/promotions", timeout=10)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert requests.get(f"{gateway}/health", timeout=10).status_code == 200
    finally:
        for sock in slow:
            sock.close()
    statuses = []
    for _ in range(50):
        statuses.append(requests.get(f"{gateway}/api/v1/promotions", timeout=10).status_code)
        if statuses[-1] != 429:
            break
        time.sleep(0.1)
    assert statuses[-1] == 401, statuses  # through to the service (no token)


def test_partners_get_tokens_through_the_gateway(platform: RunningPlatform, gateway: str) -> None:
    hotel = platform.credentials["clients"]["hotel"]
    response = requests.post(
        f"{gateway}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(hotel["clientId"], hotel["clientSecret"]),
        timeout=10,
    )
    assert response.status_code == 200
    token = response.json()["access_token"]
    session = requests.get(f"{gateway}/api/v1/auth/session", headers=bearer(token), timeout=10)
    assert session.json()["clientId"] == "hotel"
