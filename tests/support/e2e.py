"""Helpers for end-to-end tests: a registered, logged-in player; waiting for a condition."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from shared.application.events import IntegrationEvent

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningPlatform

PASSWORD = "correct horse battery"
T = TypeVar("T")
PROMOTION = {
    "promotionId": "p-welcome",
    "playerPromotionId": "pp-1",
    "title": "Welcome bonus",
    "description": "25 in bonus credit on us",
    "type": "WELCOME_BONUS",
    "amount": "25.00",
    "startDate": "2025-01-01T00:00:00Z",
    "endDate": "2030-12-31T00:00:00Z",
    "source": "WELCOME",
}


def promotion_event(user_id: str, title: str = "A welcome gift") -> dict[str, Any]:
    """A ``notifications`` record telling ``user_id`` of a promotion (as rewards sends it)."""
    return IntegrationEvent(
        "PROMOTION", user_id, {"content": PROMOTION, "title": title}
    ).to_message()


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll until ``predicate`` returns something truthy; return it. ``what`` names the
    condition in the failure message."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout}s")
        time.sleep(interval)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_backing_off(url: str, json: Any, attempts: int = 20) -> requests.Response:
    """POST as a well-behaved client: on 429, wait the Retry-After the gateway gave and retry.
    (A test that exhausts the gateway's per-address login limit on purpose would otherwise fail
    whichever test logs in next, depending on their order.)"""
    for _ in range(attempts - 1):
        response = requests.post(url, json=json, timeout=10)
        if response.status_code != 429:
            return response
        time.sleep(min(10.0, float(response.headers.get("Retry-After", "1"))))
    return requests.post(url, json=json, timeout=10)


class Player:
    """A player registered and logged in through the auth service's HTTP API.

    ``first_name=None`` registers without a first name (the field is left out)."""

    def __init__(self, auth_url: str, first_name: str | None = "Ada") -> None:
        self.email = f"player-{uuid.uuid4().hex[:10]}@example.com"
        registration = {"email": self.email, "password": PASSWORD}
        if first_name is not None:
            registration["firstName"] = first_name
        created = post_backing_off(f"{auth_url}/api/v1/auth/register", registration)
        assert created.status_code == 201, created.text
        self.id: str = created.json()["id"]
        login = post_backing_off(
            f"{auth_url}/api/v1/auth/login", {"email": self.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        self.token: str = login.json()["accessToken"]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)

    def read_welcome(self, notification_url: str, timeout: float = 30.0) -> Player:
        """Wait for the notification registration brings (the running welcome promotion:
        rewards → notifications) and mark everything read, so a test then sees only the
        notifications it causes. Only where the platform runs rewards."""

        def unread() -> int:
            response = requests.get(
                f"{notification_url}/api/v1/notifications/unread-count",
                headers=self.headers,
                timeout=10,
            )
            assert response.status_code == 200, response.text
            return int(response.json()["unreadCount"])

        wait_until(unread, timeout=timeout, what="the welcome notification arriving")
        requests.post(
            f"{notification_url}/api/v1/notifications/read-all", headers=self.headers, timeout=10
        ).raise_for_status()
        return self


def welcomed_player(
    platform: RunningPlatform, first_name: str | None = None, timeout: float = 30.0
) -> Player:
    """A player registered through the platform's auth service (without a first name unless one
    is given) whose welcome notification, where the platform runs rewards (which gives it), has
    arrived and is marked read."""
    player = Player(platform.url("auth"), first_name=first_name)
    if "rewards" in platform.endpoints:
        player.read_welcome(platform.url("notification"), timeout=timeout)
    return player


def json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
