"""The worker's periodic task: on time, at once again while it has more, never stopped by a
failure."""

from __future__ import annotations

import threading
import time

from shared.messaging.worker import Periodic

INTERVAL = 0.5


def test_a_periodic_task_runs_again_at_once_while_it_has_more_and_outlives_failures() -> None:
    calls: list[float] = []

    def task() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("the database is away")
        if len(calls) == 5:
            periodic.stop()
        return len(calls) in (3, 4)  # a full batch: more to do

    periodic = Periodic("sweep", task, interval=INTERVAL)
    thread = threading.Thread(target=periodic.run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert len(calls) == 5
    assert calls[1] - calls[0] >= INTERVAL  # nothing more: waits
    assert calls[2] - calls[1] >= INTERVAL  # failed: waits, then goes on
    assert calls[4] - calls[2] < INTERVAL  # more to do: at once, twice
