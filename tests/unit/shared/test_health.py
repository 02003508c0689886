"""Readiness answers within its deadline, whatever a dependency does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.web.health import HealthCheck, health_blueprint


class Dependency:
    """A probe that answers, fails, or hangs until released; counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.released = threading.Event()
        self.released.set()

    def probe(self) -> None:
        self.calls += 1
        self.released.wait()
        if self.failing:
            raise ConnectionError("refused")


@pytest.fixture
def database() -> Iterator[Dependency]:
    dependency = Dependency()
    yield dependency
    dependency.released.set()


@pytest.fixture
def client(database: Dependency) -> FlaskClient:
    app = Flask(__name__)
    checks = [HealthCheck("database", database.probe), HealthCheck("redis", lambda: None)]
    app.register_blueprint(health_blueprint(checks, timeout_seconds=0.3))
    return app.test_client()


def test_ready_when_every_dependency_answers(client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json == {
        "status": "UP",
        "checks": {"database": {"status": "UP"}, "redis": {"status": "UP"}},
    }


def test_a_failing_dependency_is_down_by_its_error_class(client, database: Dependency) -> None:
    database.failing = True
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == {"status": "DOWN", "error": "ConnectionError"}
    assert response.json["checks"]["redis"] == {"status": "UP"}


def test_a_hanging_dependency_is_down_at_the_deadline_and_asked_once_until_it_answers(
    client, database: Dependency
) -> None:
    database.released.clear()
    started = time.monotonic()
    first = client.get("/health/ready")
    assert 0.3 <= time.monotonic() - started < 2
    assert first.status_code == 503
    assert first.json["checks"]["database"] == {"status": "DOWN", "error": "TimeoutError"}
    assert first.json["checks"]["redis"] == {"status": "UP"}

    # Still unanswered: DOWN at once, without a second call waiting on the same dependency.
    started = time.monotonic()
    second = client.get("/health/ready")
    assert time.monotonic() - started < 0.3
    assert second.json["checks"]["database"] == {"status": "DOWN", "error": "TimeoutError"}
    assert database.calls == 1

    database.released.set()
    deadline = time.monotonic() + 5
    while client.get("/health/ready").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert database.calls == 2
