from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pybreaker
import pytest

from shared.resilience import circuit_breaker


class Refused(Exception):
    """An answer, not a failure."""


def failing() -> None:
    raise ConnectionError("down")


def test_guarded_calls_run_side_by_side() -> None:
    breaker = circuit_breaker("side-by-side", fail_max=3, reset_timeout=1)
    # Both calls must be inside the guarded function at once to pass the barrier.
    barrier = threading.Barrier(2, timeout=5)

    def both_at_once() -> str:
        barrier.wait()
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        results = [pool.submit(breaker.call, both_at_once) for _ in range(2)]
        assert [r.result(timeout=10) for r in results] == ["ok", "ok"]


def test_it_opens_after_fail_max_failures_and_fails_fast_while_open() -> None:
    breaker = circuit_breaker("opens", fail_max=2, reset_timeout=60)
    with pytest.raises(ConnectionError):
        breaker.call(failing)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing)  # the second failure opens it
    assert breaker.current_state == "open"
    calls: list[int] = []
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: calls.append(1))
    assert calls == []


def test_after_the_timeout_one_trial_runs_and_its_success_closes_the_breaker() -> None:
    breaker = circuit_breaker("trial", fail_max=1, reset_timeout=0.05)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing)
    time.sleep(0.1)
    in_trial, release = threading.Event(), threading.Event()

    def trial() -> str:
        in_trial.set()
        release.wait(5)
        return "recovered"

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(breaker.call, trial)
        assert in_trial.wait(5)
        assert breaker.current_state == "half-open"
        with pytest.raises(pybreaker.CircuitBreakerError):
            breaker.call(lambda: "not while the trial runs")
        release.set()
        assert running.result(timeout=5) == "recovered"
    assert breaker.current_state == "closed"
    assert breaker.call(lambda: "normal") == "normal"


def test_a_failed_trial_opens_the_breaker_again() -> None:
    breaker = circuit_breaker("reopens", fail_max=1, reset_timeout=0.05)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing)
    time.sleep(0.1)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(failing)
    assert breaker.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: "too soon")


def test_excluded_exceptions_are_answers_and_never_open_it() -> None:
    breaker = circuit_breaker("answers", fail_max=1, reset_timeout=60, exclude=(Refused,))

    def refused() -> None:
        raise Refused()

    for _ in range(3):
        with pytest.raises(Refused):
            breaker.call(refused)
    assert breaker.current_state == "closed"
