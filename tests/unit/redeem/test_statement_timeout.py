"""The statement timeout derived from a deadline: rounded down, never above the default."""

from __future__ import annotations

import pytest

from redeem_service.adapters.persistence.statement_timeout import timeout_to_set, wanted_timeout_ms
from shared import deadline


def test_without_a_deadline_the_default_applies() -> None:
    assert wanted_timeout_ms(15_000) == 15_000


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(10.0, 9_900), (1.0, 990), (0.5, 490), (0.05, 49), (0.0001, 1), (-1.0, 1), (60.0, 15_000)],
)
def test_a_deadline_gives_its_remaining_time_rounded_down(budget: float, expected: int) -> None:
    with deadline.bound_deadline(budget):
        assert wanted_timeout_ms(15_000) == expected


@pytest.mark.parametrize(
    ("current", "budget", "expected"),
    [
        # gRPC rounds the sent timeout up: a 10 s deadline arrives on both sides of 10 s.
        (9_900, 10.001, None),
        (9_900, 9.998, None),
        (990, 1.002, None),
        (990, 0.996, None),
        # Past the budget: the database would work for a caller who left.
        (9_900, 9.85, 9_800),
        (15_000, 9.998, 9_900),
        # Far below the budget (a previous caller's short deadline): cut too early.
        (490, 1.0, 990),
        (8_900, 10.0, 9_900),
        # A deadline beyond the default keeps the default.
        (15_000, 60.0, None),
        (9_900, 60.0, 15_000),
    ],
)
def test_the_session_timeout_is_set_only_when_it_no_longer_fits(
    current: int, budget: float, expected: int | None
) -> None:
    with deadline.bound_deadline(budget):
        assert timeout_to_set(current, 15_000) == expected


def test_without_a_deadline_only_the_default_fits() -> None:
    assert timeout_to_set(15_000, 15_000) is None
    assert timeout_to_set(9_900, 15_000) == 15_000


def test_with_no_default_timeout_a_deadline_still_bounds_the_work() -> None:
    # statement_timeout_ms: 0 is PostgreSQL's "no timeout": a caller's deadline still applies.
    assert wanted_timeout_ms(0) == 0
    with deadline.bound_deadline(1.0):
        assert wanted_timeout_ms(0) == 990
        assert timeout_to_set(0, 0) == 990
        assert timeout_to_set(990, 0) is None
    assert timeout_to_set(990, 0) == 0
