"""Circuit breakers whose state shows in the metrics (pybreaker), for adapters to wrap calls."""

from __future__ import annotations

from typing import Any

import pybreaker

from shared.observability.logging import get_logger
from shared.observability.metrics import BREAKER_STATE

log = get_logger(__name__)

_STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}


class _MetricsListener(pybreaker.CircuitBreakerListener):
    def __init__(self, name: str) -> None:
        self._name = name
        BREAKER_STATE.labels(name).set(0)

    def state_change(self, breaker: Any, old: Any, new: Any) -> None:
        BREAKER_STATE.labels(self._name).set(_STATE_VALUES.get(new.name, 0))
        log.warning("circuit_breaker_state", breaker=self._name, old=old.name, new=new.name)


def circuit_breaker(
    name: str,
    fail_max: int,
    reset_timeout: float,
    exclude: tuple[type[BaseException], ...] = (),
) -> pybreaker.CircuitBreaker:
    """A breaker that opens after ``fail_max`` consecutive failures and lets one trial call
    through after ``reset_timeout`` seconds. ``exclude``: exceptions that are answers, not
    failures (a refused debit says nothing about the wallet's health)."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        exclude=list(exclude),
        listeners=[_MetricsListener(name)],
        name=name,
    )
