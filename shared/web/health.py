"""``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify

from shared.messaging.kafka import check_broker
from shared.observability.logging import get_logger
from shared.persistence.database import check_database

log = get_logger(__name__)


#: how long readiness waits for a dependency to answer
READY_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """A named probe that raises when its dependency does not answer."""

    name: str
    probe: Callable[[], None]


class _Run:
    """One run of a probe on its own daemon thread (a run that never returns cannot hold up
    the process's exit)."""

    def __init__(self, probe: Callable[[], None]) -> None:
        self._probe = probe
        self._finished = threading.Event()
        self.error: BaseException | None = None
        threading.Thread(target=self._run, name="readiness-probe", daemon=True).start()

    def _run(self) -> None:
        try:
            self._probe()
        except BaseException as exc:  # any failure is the check's result
            self.error = exc
        finally:
            self._finished.set()

    def wait(self, seconds: float) -> bool:
        return self._finished.wait(max(0.0, seconds))


class BoundedCheck:
    """Runs a check and waits at most the deadline for it.

    A dependency that hangs rather than fails (a paused or partitioned database answers
    nothing, and its server-side statement timeout cannot fire) would otherwise hold every
    probe — and, probe after probe, every web thread — until it came back. Unanswered, the
    check is DOWN with ``TimeoutError``; while that run is still pending the check is DOWN at
    once and no second run starts, so at most one thread per dependency waits on it.
    """

    def __init__(self, check: HealthCheck) -> None:
        self.name = check.name
        self._probe = check.probe
        self._lock = threading.Lock()
        self._pending: _Run | None = None

    def start(self) -> _Run | None:
        """A new run, or None while the previous one is still unanswered."""
        with self._lock:
            if self._pending is not None and not self._pending.wait(0):
                return None
            self._pending = _Run(self._probe)
            return self._pending

    @staticmethod
    def outcome(run: _Run | None, deadline: float) -> BaseException | None:
        """None when the dependency answered in time, else why not."""
        if run is None:
            return TimeoutError("the previous check has not been answered yet")
        if not run.wait(deadline - time.monotonic()):
            return TimeoutError("no answer before the readiness deadline")
        return run.error


def core_checks(core: Any, kafka: Mapping[str, Any]) -> list[HealthCheck]:
    """The readiness of a service built on ``shared.container.CoreContainer`` (``core``, the
    service container's provider of it): PostgreSQL, Redis, the broker."""
    return [
        HealthCheck("database", lambda: check_database(core.database())),
        HealthCheck("redis", lambda: core.redis().ping()),
        HealthCheck("kafka", lambda: check_broker(kafka)),
    ]


def health_blueprint(
    checks: Sequence[HealthCheck], timeout_seconds: float = READY_TIMEOUT_SECONDS
) -> Blueprint:
    blueprint = Blueprint("health", __name__)
    bounded = [BoundedCheck(check) for check in checks]

    @blueprint.get("/health/live")
    def live() -> Response:
        return jsonify(status="UP")

    @blueprint.get("/health/ready")
    def ready() -> tuple[Response, int]:
        results: dict[str, dict[str, str]] = {}
        healthy = True
        # The dependencies are asked at once, so one that hangs costs the deadline only once.
        deadline = time.monotonic() + timeout_seconds
        runs = [(check, check.start()) for check in bounded]
        for check, run in runs:
            error = BoundedCheck.outcome(run, deadline)
            if error is None:
                results[check.name] = {"status": "UP"}
                continue
            healthy = False
            # The error class only: readiness is public, its details are in the logs.
            results[check.name] = {"status": "DOWN", "error": type(error).__name__}
            log.warning("readiness_check_failed", check=check.name, error=str(error))
        body = jsonify(status="UP" if healthy else "DOWN", checks=results)
        return body, 200 if healthy else 503

    return blueprint
