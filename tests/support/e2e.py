"""Helpers for end-to-end tests: a registered, logged-in player; waiting for a condition."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import requests

PASSWORD = "correct horse battery"
T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1
) -> T:
    """Poll until ``predicate`` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Player:
    """A player registered and logged in through the auth service's HTTP API."""

    def __init__(self, auth_url: str, first_name: str = "Ada") -> None:
        self.email = f"player-{uuid.uuid4().hex[:10]}@example.com"
        created = requests.post(
            f"{auth_url}/api/v1/auth/register",
            json={"email": self.email, "password": PASSWORD, "firstName": first_name},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        self.id: str = created.json()["id"]
        login = requests.post(
            f"{auth_url}/api/v1/auth/login",
            json={"email": self.email, "password": PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        self.token: str = login.json()["accessToken"]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


def json_or_text(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
