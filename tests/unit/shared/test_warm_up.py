"""A process's warm-up: every step runs once, and a failing step never stops the others."""

from __future__ import annotations

from shared.warm_up import WarmUpStep, warm_up


def test_every_step_runs_and_a_failure_does_not_stop_the_rest() -> None:
    ran: list[str] = []

    def broken() -> None:
        ran.append("broken")
        raise ConnectionError("the database is not up yet")

    warm_up(
        [
            WarmUpStep("first", lambda: ran.append("first")),
            WarmUpStep("broken", broken),
            WarmUpStep("last", lambda: ran.append("last")),
        ]
    )
    assert ran == ["first", "broken", "last"]
