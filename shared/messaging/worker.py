"""The worker process: runs consumers and the outbox relay side by side, stops them on SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Protocol

from shared.observability.logging import get_logger
from shared.observability.metrics import serve_metrics

log = get_logger(__name__)


class Component(Protocol):
    name: str

    def run(self) -> None: ...

    def stop(self) -> None: ...


class Worker:
    """Supervises components in threads: a component that crashes is restarted after a pause;
    SIGTERM/SIGINT ask every component to finish the work in hand and stop."""

    def __init__(
        self,
        components: Sequence[Component],
        metrics_port: int | None = None,
        restart_delay: float = 2.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self._components = list(components)
        self._metrics_port = metrics_port
        self._restart_delay = restart_delay
        self._stop_timeout = stop_timeout
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def _supervise(self, component: Component) -> None:
        while not self._stopping.is_set():
            try:
                component.run()
            except Exception:
                log.exception("component_crashed", component=component.name)
            if not self._stopping.is_set():
                self._stopping.wait(self._restart_delay)

    def start(self) -> None:
        if self._metrics_port:
            serve_metrics(self._metrics_port)
        for component in self._components:
            thread = threading.Thread(
                target=self._supervise, args=(component,), name=component.name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        log.info("worker_started", components=[c.name for c in self._components])

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        log.info("worker_stopping")
        self._stopping.set()
        for component in self._components:
            component.stop()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(self._stop_timeout)
        log.info("worker_stopped")

    def run_forever(self) -> None:
        """Start, wait for SIGTERM/SIGINT, stop cleanly."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal_received", signal=signal.Signals(signum).name)
            self.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not self._stopping.wait(1.0):
            pass
        self.join()


class Periodic:
    """A task run every ``interval`` seconds until stopped, and again at once while it says
    there is more to do (it returns True). A failure is logged; the next run comes on time."""

    def __init__(self, name: str, task: Callable[[], bool], interval: float) -> None:
        self.name = name
        self._task = task
        self._interval = interval
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                more = self._task()
            except Exception:
                log.exception("periodic_task_failed", task=self.name)
                more = False
            if not more:
                self._stopping.wait(self._interval)
