"""Registration → the welcome promotion → a live notification on an open socket → stored unread →
marked read. auth, rewards, notification and the broker as real processes; the socket goes
through the gateway when nginx is installed."""

from __future__ import annotations

import requests

from embedded.services import SERVICES, start_worker
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, bearer
from tests.support.websocket import connect, next_event, socket_url


def test_the_welcome_notification_arrives_live_and_is_stored_unread(
    platform: RunningPlatform,
) -> None:
    rewards = next(s for s in SERVICES if s.name == "rewards")
    cluster = platform.cluster
    # Hold the welcome back until the player's socket is open: stop the rewards worker, register,
    # connect, then start a worker again (it consumes the registration where the group left off).
    cluster.process("rewards-worker").stop()
    base = platform.gateway or platform.url("auth")
    player = Player(base)
    ws = connect(socket_url(platform.gateway or platform.url("notification")), player.token)
    try:
        cluster.processes.append(
            start_worker(
                rewards, cluster.env.for_service(rewards), cluster.log_dir, name="rewards-worker"
            )
        )
        message = next_event(ws, timeout=60)
    finally:
        ws.close()
    assert isinstance(message, dict), message
    notification = message["notification"]
    assert notification["type"] == "PROMOTION"
    assert notification["content"]["type"] == "WELCOME_BONUS"
    assert notification["content"]["source"] == "WELCOME"
    assert notification["read"] is False

    notifications = f"{platform.url('notification')}/api/v1/notifications"
    unread = requests.get(f"{notifications}?unread=true", headers=bearer(player.token), timeout=10)
    assert [n["id"] for n in unread.json()["notifications"]] == [notification["id"]]
    marked = requests.patch(
        f"{notifications}/{notification['id']}/read", headers=bearer(player.token), timeout=10
    )
    assert marked.status_code == 200
    assert marked.json()["read"] is True
    count = requests.get(f"{notifications}/unread-count", headers=bearer(player.token), timeout=10)
    assert count.json()["unreadCount"] == 0
