"""Ports for the servers the platform runner and the test fixtures start."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded.runner import check_ports, parse_args, planned_ports, service_ports
from embedded.servers import ServerStartError, _ephemeral_range, free_port, spawn
from embedded.services import SERVICES, wait_ready


def test_ports_are_distinct_bindable_and_outside_the_ephemeral_range() -> None:
    ephemeral_low, ephemeral_high = _ephemeral_range()
    ports = [free_port() for _ in range(300)]

    assert len(set(ports)) == len(ports)
    assert all(not ephemeral_low <= port <= ephemeral_high for port in ports)
    for port in ports[:20]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))


@pytest.fixture
def not_http() -> Iterator[int]:
    """A listener that answers every connection with bytes that are not HTTP (as a gRPC
    server does)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def answer() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(
                    b"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x04\x00\x40\x00\x00\r\n"
                )

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def test_waiting_on_a_port_held_by_something_else_ends_with_the_reason(not_http: int) -> None:
    with pytest.raises(ServerStartError, match="not with HTTP"):
        wait_ready(f"http://127.0.0.1:{not_http}", timeout=1)


def runner_args(*argv: str) -> argparse.Namespace:
    return parse_args(["--kafka-port", str(free_port()), "--mongo-port", str(free_port()), *argv])


def test_every_port_of_the_platform_can_be_moved() -> None:
    base, grpc, metrics = free_port(), free_port(), free_port()
    args = runner_args(
        "--service-port-base",
        str(base),
        "--grpc-port",
        str(grpc),
        "--metrics-port-base",
        str(metrics),
    )
    assert service_ports(args, SERVICES) == {
        "auth": base + 1,
        "rewards": base + 2,
        "redeem": base + 3,
        "notification": base + 4,
    }
    planned = {port for port, _ in planned_ports(args, list(SERVICES), gateway=False)}
    assert {base + 1, base + 4, grpc, metrics, metrics + 10 + 2} <= planned
    assert not {8001, 50051, 9101} & planned


def test_a_taken_port_stops_the_start_naming_the_option_that_moves_it() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = runner_args("--service-port-base", str(port - 2))  # rewards on it
        with pytest.raises(ServerStartError, match=rf"--service-port-base \({port}\)"):
            check_ports(planned_ports(args, list(SERVICES), gateway=False))


def test_a_managed_process_starts_again_as_it_was_started(tmp_path: Path) -> None:
    log = tmp_path / "echo.log"
    script = "import os, sys; print(os.environ['GREETING'], sys.argv[1], flush=True)"
    managed = spawn(
        "echo", [sys.executable, "-c", script, "again"], log, env={**os.environ, "GREETING": "hi"}
    )
    first = managed.pid
    managed.process.wait(10)
    managed.respawn()
    managed.process.wait(10)
    assert managed.pid != first
    assert log.read_text().split() == ["hi", "again", "hi", "again"]  # the log continues
    sleeper = spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], log)
    try:
        with pytest.raises(RuntimeError):
            sleeper.respawn()  # still running
    finally:
        sleeper.stop()


def test_options_that_give_one_port_to_two_listeners_are_refused() -> None:
    base = free_port()
    args = runner_args("--service-port-base", str(base), "--metrics-port-base", str(base + 1))
    with pytest.raises(ServerStartError, match=rf"{base + 1} \(--service-port-base, --metrics"):
        check_ports(planned_ports(args, list(SERVICES), gateway=False))
