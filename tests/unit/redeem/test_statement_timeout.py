"""The statement timeout derived from a deadline: rounded down, never above the default."""

from __future__ import annotations

import pytest

from redeem_service.adapters.persistence.statement_timeout import wanted_timeout_ms
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
