"""Notifications end to end: events on Kafka, the worker and the web processes of the
notification service, the auth service's tokens and deactivations, WebSockets and REST."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Producer

from embedded.servers import ManagedProcess, free_port
from embedded.services import SERVICES, start_web, wait_ready
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import PROMOTION, Player, promotion_event, wait_until, welcomed_player
from tests.support.kafka import TopicProbe, produce
from tests.support.tokens import TokenMinter
from tests.support.websocket import Closed, connect, next_event, refused_status, socket_url

WAIT = 30.0


def publish(platform: RunningPlatform, event: dict[str, Any]) -> None:
    produce(platform.infra.kafka_bootstrap, "notifications", event, key=str(event["user_id"]))


def notifications(base: str, player: Player, query: str = "") -> dict[str, Any]:
    response = requests.get(
        f"{base}/api/v1/notifications{query}", headers=player.headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def second_web(
    platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Another notification web process (its own replica), beside the platform's."""
    spec = next(s for s in SERVICES if s.name == "notification")
    env = platform.cluster.env.for_service(spec)
    env["PORT"] = str(free_port())
    log_dir: Path = tmp_path_factory.mktemp("notification-replica")
    process: ManagedProcess = start_web(spec, env, log_dir, workers=1)
    try:
        url = f"http://127.0.0.1:{env['PORT']}"
        wait_ready(url, timeout=60, process=process)
        yield url
    finally:
        process.stop()


def test_a_notification_reaches_the_open_socket_and_is_stored_unread_then_read(
    platform: RunningPlatform,
) -> None:
    web = platform.url("notification")
    player = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(web), player.token, in_query=True)
    try:
        event = promotion_event(player.id)
        publish(platform, event)
        message = next_event(ws, timeout=WAIT)
    finally:
        ws.close()
    assert isinstance(message, dict)
    assert message["type"] == "notification"
    pushed = message["notification"]
    assert pushed["type"] == "PROMOTION"
    assert pushed["content"] == PROMOTION
    assert pushed["title"] == "A welcome gift"
    assert pushed["read"] is False

    listed = notifications(web, player, "?unread=true")
    assert listed["user_id"] == player.id
    assert listed["notifications"] == [pushed]
    marked = requests.patch(
        f"{web}/api/v1/notifications/{pushed['id']}/read", headers=player.headers, timeout=10
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["read"] is True
    count = requests.get(
        f"{web}/api/v1/notifications/unread-count", headers=player.headers, timeout=10
    ).json()
    assert count == {"user_id": player.id, "unreadCount": 0}
    assert notifications(web, player)["notifications"][0]["read"] is True


def test_a_player_who_was_offline_reads_them_later(platform: RunningPlatform) -> None:
    web = platform.url("notification")
    player = welcomed_player(platform, timeout=WAIT)
    publish(platform, promotion_event(player.id, title="While you were away"))
    wait_until(
        lambda: notifications(web, player, "?unread=true")["total"],
        timeout=WAIT,
        what="the notification being stored",
    )
    [stored] = notifications(web, player, "?unread=true")["notifications"]
    assert (stored["title"], stored["read"]) == ("While you were away", False)


def test_a_socket_on_another_process_gets_what_the_worker_consumed(
    platform: RunningPlatform, second_web: str
) -> None:
    """The worker (consumer) runs beside the platform's web process; the sockets are on that
    web process and on a second one: both hear it through Redis pub/sub."""
    player = welcomed_player(platform, timeout=WAIT)
    on_second = connect(socket_url(second_web), player.token)
    on_first = connect(socket_url(platform.url("notification")), player.token)
    try:
        publish(platform, promotion_event(player.id, title="To every replica"))
        received = [next_event(ws, timeout=WAIT) for ws in (on_second, on_first)]
    finally:
        on_second.close()
        on_first.close()
    for message in received:
        assert isinstance(message, dict)
        assert message["notification"]["title"] == "To every replica"
    first, second = received
    assert first == second
    assert isinstance(first, dict)
    [stored] = notifications(second_web, player, "?unread=true")["notifications"]
    assert stored == first["notification"]
    marked = requests.patch(
        f"{second_web}/api/v1/notifications/{stored['id']}/read",
        headers=player.headers,
        timeout=10,
    )
    assert marked.json()["read"] is True
    assert notifications(platform.url("notification"), player, "?unread=true")["total"] == 0


def test_redelivering_the_same_event_creates_nothing_new(platform: RunningPlatform) -> None:
    web = platform.url("notification")
    player = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(web), player.token)
    try:
        event = promotion_event(player.id, title="Once")
        publish(platform, event)
        publish(platform, event)
        publish(platform, promotion_event(player.id, title="Marker"))
        publish(platform, event)
        titles = [next_event(ws, timeout=WAIT) for _ in range(2)]
    finally:
        ws.close()
    # Same key, same partition, so had the redelivery been pushed it would precede the marker.
    assert [m["notification"]["title"] for m in titles if isinstance(m, dict)] == [
        "Once",
        "Marker",
    ]
    listed = notifications(web, player, "?unread=true")
    assert listed["total"] == 2
    assert sorted(n["title"] for n in listed["notifications"]) == ["Marker", "Once"]


def test_a_burst_larger_than_a_socket_queue_reaches_a_reader_that_keeps_up(
    platform: RunningPlatform,
) -> None:
    # The worker publishes a batch in one go; the web process used to dispatch all of it to
    # the sessions before any could send, so 400 notifications at once overflowed the queue
    # (256) and closed even a client reading as fast as it could with 1013 "too slow".
    player = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(platform.url("notification")), player.token)
    burst = [promotion_event(player.id, title=f"Burst {i}") for i in range(400)]
    producer = Producer({"bootstrap.servers": platform.infra.kafka_bootstrap})
    try:
        for event in burst:
            producer.produce("notifications", json.dumps(event).encode(), key=player.id)
        assert producer.flush(30) == 0
        received: list[dict[str, Any]] = []
        while len(received) < len(burst):
            frame = next_event(ws, timeout=WAIT)
            assert not isinstance(frame, Closed), (len(received), frame)
            received.append(frame)
    finally:
        ws.close()
    assert [m["notification"]["title"] for m in received] == [f"Burst {i}" for i in range(400)]


def test_a_player_cannot_read_another_players_notifications(platform: RunningPlatform) -> None:
    web = platform.url("notification")
    owner = welcomed_player(platform, timeout=WAIT)
    intruder = welcomed_player(platform, timeout=WAIT)
    ws = connect(socket_url(web), owner.token)
    try:
        publish(platform, promotion_event(owner.id))
        message = next_event(ws, timeout=WAIT)
    finally:
        ws.close()
    assert isinstance(message, dict)
    theirs = message["notification"]["id"]

    listed = requests.get(
        f"{web}/api/v1/notifications?userId={owner.id}", headers=intruder.headers, timeout=10
    )
    assert listed.status_code == 403
    assert listed.json()["error"]["code"] == "FORBIDDEN"
    marked = requests.patch(
        f"{web}/api/v1/notifications/{theirs}/read", headers=intruder.headers, timeout=10
    )
    assert marked.status_code == 404
    assert notifications(web, intruder, "?unread=true")["total"] == 0
    assert notifications(web, owner, "?unread=true")["total"] == 1


def test_a_socket_without_or_with_a_forged_token_is_refused(platform: RunningPlatform) -> None:
    url = socket_url(platform.url("notification"))
    player = welcomed_player(platform, timeout=WAIT)
    assert refused_status(url) == 401
    header, payload, _signature = player.token.split(".")
    kid = str(
        requests.get(f"{platform.url('auth')}/.well-known/jwks.json", timeout=10).json()["keys"][0][
            "kid"
        ]
    )
    forged = TokenMinter(issuer=platform.cluster.env.issuer).token(player.id, kid=kid)
    assert refused_status(url, forged) == 401
    assert refused_status(url, forged, in_query=True) == 401
    tampered = f"{header}.{payload}.{forged.split('.')[2]}"
    assert refused_status(url, tampered) == 401
    assert refused_status(url, platform.admin_token()) == 403


def test_an_invalid_event_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(
    platform: RunningPlatform,
) -> None:
    web = platform.url("notification")
    player = welcomed_player(platform, timeout=WAIT)
    dlq = TopicProbe(platform.infra.kafka_bootstrap, "notifications.dlq")
    try:
        invalid = promotion_event(player.id, title="No content")
        del invalid["content"]
        publish(platform, invalid)
        publish(platform, promotion_event(player.id, title="After the bad one"))
        [dead] = dlq.wait_for(
            lambda r: (
                isinstance(r["value"], dict) and r["value"].get("eventId") == invalid["eventId"]
            ),
            timeout=WAIT,
        )
    finally:
        dlq.close()
    assert dead["headers"]["dlq-reason"] == "schema_violation"
    assert dead["headers"]["dlq-consumer-group"] == "notification-service"
    ws = connect(socket_url(web), player.token)
    try:
        # The valid event behind the bad one was stored (it may already be, or arrive now).
        publish(platform, promotion_event(player.id, title="Probe"))
        assert isinstance(next_event(ws, timeout=WAIT), dict)
    finally:
        ws.close()
    titles = {n["title"] for n in notifications(web, player, "?unread=true")["notifications"]}
    assert titles == {"After the bad one", "Probe"}


def test_deactivating_a_player_closes_their_sockets_and_refuses_them(
    platform: RunningPlatform, second_web: str
) -> None:
    player = welcomed_player(platform, timeout=WAIT)
    sockets = [
        connect(socket_url(platform.url("notification")), player.token),
        connect(socket_url(second_web), player.token),
    ]
    admin = {"Authorization": f"Bearer {platform.admin_token()}"}
    auth = platform.url("auth")
    try:
        # Both sockets are live before the deactivation.
        publish(platform, promotion_event(player.id))
        for ws in sockets:
            assert isinstance(next_event(ws, timeout=WAIT), dict)
        response = requests.post(
            f"{auth}/api/v1/auth/users/{player.id}/deactivate", headers=admin, timeout=10
        )
        assert response.status_code == 200, response.text
        for ws in sockets:
            assert next_event(ws, timeout=WAIT) == Closed(4403, "The account is not active.")
    finally:
        for ws in sockets:
            ws.close()
    response = requests.get(
        f"{platform.url('notification')}/api/v1/notifications", headers=player.headers, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "ACCOUNT_INACTIVE"
    assert refused_status(socket_url(platform.url("notification")), player.token) == 401
