"""Circuit breakers whose state shows in the metrics (pybreaker), for adapters to wrap calls.

pybreaker's ``CircuitBreaker.call`` holds the breaker's lock while the guarded function runs
(danielfm/pybreaker#55), so every call through one breaker waits for the one before it: all
claims of a web process queued behind a single wallet call, and behind its retries when the
wallet was slow. :class:`ConcurrentCircuitBreaker` takes the lock only to decide and to record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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


T = TypeVar("T")


class ConcurrentCircuitBreaker(pybreaker.CircuitBreaker):
    """pybreaker's states, counters, listeners and storage, with guarded calls running side
    by side. Closed: every call runs. Open: calls fail with ``CircuitBreakerError`` until
    ``reset_timeout`` has passed, then one trial call runs (half-open) while the others keep
    failing fast; its outcome closes or reopens the breaker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trial_in_flight = False

    def call(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            trial = self._admit()
            for listener in self.listeners:
                listener.before_call(self, func, *args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            with self._lock:
                if trial:
                    self._trial_in_flight = False
                # Counts the failure (or, for an excluded exception, the success) in the
                # state the breaker is in now, and raises ``exc`` or ``CircuitBreakerError``.
                self.state._handle_error(exc)
            raise  # pragma: no cover - _handle_error always raises
        with self._lock:
            if trial:
                self._trial_in_flight = False
            self.state._handle_success()
        return result

    def _admit(self) -> bool:
        """Whether the call may run (raises when it may not); True for the half-open trial."""
        state = self.state.name
        if state == pybreaker.STATE_OPEN:
            opened_at = self._state_storage.opened_at
            if opened_at and datetime.now(UTC) < opened_at + timedelta(seconds=self.reset_timeout):
                raise pybreaker.CircuitBreakerError(
                    "Timeout not elapsed yet, circuit breaker still open"
                )
            self.half_open()
            state = pybreaker.STATE_HALF_OPEN
        if state == pybreaker.STATE_HALF_OPEN:
            if self._trial_in_flight:
                raise pybreaker.CircuitBreakerError("A trial call is in flight")
            self._trial_in_flight = True
            return True
        return False


def circuit_breaker(
    name: str,
    fail_max: int,
    reset_timeout: float,
    exclude: tuple[type[BaseException], ...] = (),
) -> pybreaker.CircuitBreaker:
    """A breaker that opens after ``fail_max`` consecutive failures and lets one trial call
    through after ``reset_timeout`` seconds. ``exclude``: exceptions that are answers, not
    failures (a refused debit says nothing about the wallet's health)."""
    return ConcurrentCircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        exclude=list(exclude),
        listeners=[_MetricsListener(name)],
        name=name,
    )
