"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify

from shared.messaging.kafka import check_broker
from shared.observability.logging import get_logger
from shared.persistence.database import check_database

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A named probe that raises when its dependency does not answer (each bounded by its own
    client timeout)."""

    name: str
    probe: Callable[[], None]


def core_checks(core: Any, kafka: Mapping[str, Any]) -> list[HealthCheck]:
    """The readiness of a service built on ``shared.container.CoreContainer`` (``core``, the
    service container's provider of it): PostgreSQL, Redis, the broker."""
    return [
        HealthCheck("database", lambda: check_database(core.database())),
        HealthCheck("redis", lambda: core.redis().ping()),
        HealthCheck("kafka", lambda: check_broker(kafka)),
    ]


def health_blueprint(checks: Sequence[HealthCheck]) -> Blueprint:
    blueprint = Blueprint("health", __name__)

    @blueprint.get("/health/live")
    def live() -> Response:
        return jsonify(status="UP")

    @blueprint.get("/health/ready")
    def ready() -> tuple[Response, int]:
        results: dict[str, dict[str, str]] = {}
        healthy = True
        for check in checks:
            try:
                check.probe()
                results[check.name] = {"status": "UP"}
            except Exception as exc:
                healthy = False
                # The error class only: readiness is public, its details are in the logs.
                results[check.name] = {"status": "DOWN", "error": type(exc).__name__}
                log.warning("readiness_check_failed", check=check.name, error=str(exc))
        body = jsonify(status="UP" if healthy else "DOWN", checks=results)
        return body, 200 if healthy else 503

    return blueprint
