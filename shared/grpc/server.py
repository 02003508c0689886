"""A gRPC server with the standard health service, a bounded thread pool, message size limits,
a bounded wait for each call's request message, and a graceful stop: on SIGTERM the health status
turns NOT_SERVING, new calls are refused and calls in flight get a grace period to finish."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from shared.addresses import host_port
from shared.grpc.interceptors import (
    HEALTH_SERVICE,
    BearerAuthInterceptor,
    UnaryRequestInterceptor,
)
from shared.observability.logging import get_logger
from shared.observability.metrics import serve_metrics

log = get_logger("grpc")

if TYPE_CHECKING:
    ServerInterceptor = grpc.ServerInterceptor[Any, Any]
else:
    ServerInterceptor = grpc.ServerInterceptor


@dataclass(frozen=True)
class GrpcServerSettings:
    """The ``grpc`` section of a service's settings."""

    host: str = "127.0.0.1"
    port: int = 50051
    max_workers: int = 16
    max_concurrent_rpcs: int | None = None
    max_message_bytes: int = 1_048_576
    request_wait_seconds: float = 5.0
    grace_seconds: float = 5.0
    metrics_port: int = 0
    access_log: bool = True
    slow_call_seconds: float = 0.5
    processes: int = 1

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> GrpcServerSettings:
        concurrent = settings.get("max_concurrent_rpcs")
        return cls(
            host=str(settings.get("host", cls.host)),
            port=int(settings.get("port", cls.port)),
            max_workers=int(settings.get("max_workers", cls.max_workers)),
            max_concurrent_rpcs=int(concurrent) if concurrent else None,
            max_message_bytes=int(settings.get("max_message_bytes", cls.max_message_bytes)),
            request_wait_seconds=float(
                settings.get("request_wait_seconds", cls.request_wait_seconds)
            ),
            grace_seconds=float(settings.get("grace_seconds", cls.grace_seconds)),
            metrics_port=int(settings.get("metrics_port") or 0),
            access_log=bool(settings.get("access_log", cls.access_log)),
            slow_call_seconds=float(settings.get("slow_call_seconds", cls.slow_call_seconds)),
            processes=max(1, int(settings.get("processes", cls.processes))),
        )


Registrar = Callable[[Any, grpc.Server], None]


class GrpcServer:
    """Owns a ``grpc.Server``: add services, :meth:`start`, then :meth:`stop` or
    :meth:`serve_forever` (which stops on SIGTERM/SIGINT).

    ``interceptors`` run in their order, outermost first; the server adds
    :class:`UnaryRequestInterceptor` inside them all, so a unary call's request message is read
    only once they let the call through (a refused call holds no thread waiting for it), and for
    at most ``request_wait_seconds`` from the call's arrival. Calls that need no token (the
    health service and the services a :class:`BearerAuthInterceptor` exempts) wait less, and
    only a few at once."""

    def __init__(
        self,
        settings: GrpcServerSettings,
        interceptors: Sequence[ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self._executor = ThreadPoolExecutor(
            max_workers=settings.max_workers, thread_name_prefix="grpc-worker"
        )
        open_services = {HEALTH_SERVICE}
        for interceptor in interceptors:
            if isinstance(interceptor, BearerAuthInterceptor):
                open_services |= interceptor.exempt_services
        self._requests = UnaryRequestInterceptor(settings.request_wait_seconds, open_services)
        self._server = grpc.server(
            self._executor,
            interceptors=[*interceptors, self._requests],
            options=[
                ("grpc.max_receive_message_length", settings.max_message_bytes),
                ("grpc.max_send_message_length", settings.max_message_bytes),
                # A second server on a taken port must fail, not share it silently — unless
                # this server is one of several processes sharing the port on purpose.
                ("grpc.so_reuseport", 1 if settings.processes > 1 else 0),
                # Our clients ping idle channels every 30 s (shared.grpc.client); by default
                # the server allows one ping per 5 minutes without calls and answers more with
                # GOAWAY "too_many_pings", dropping the channel.
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 20_000),
            ],
            maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        )
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        self._services: list[str] = []
        self.port = self._server.add_insecure_port(host_port(settings.host, settings.port))
        self._stopped = threading.Event()
        self._stop_requested = threading.Event()

    def add_service(self, name: str, register: Registrar, servicer: Any) -> None:
        """Register ``servicer`` (``register`` is the generated ``add_XServicer_to_server``)."""
        register(servicer, self._server)
        self._services.append(name)

    def start(self) -> None:
        self._server.start()
        for name in ("", *self._services):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        if self.settings.metrics_port:
            serve_metrics(self.settings.metrics_port)
        log.info(
            "grpc_server_started",
            address=f"{self.settings.host}:{self.port}",
            services=self._services,
            max_workers=self.settings.max_workers,
        )

    def stop(self, grace: float | None = None) -> None:
        """Turn NOT_SERVING, refuse new calls, let calls in flight finish within ``grace``."""
        if self._stopped.is_set():
            return
        grace = self.settings.grace_seconds if grace is None else grace
        log.info("grpc_server_stopping", grace_seconds=grace)
        self.health.enter_graceful_shutdown()
        self._server.stop(grace).wait()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._requests.close()
        self._stopped.set()
        log.info("grpc_server_stopped")

    def serve_forever(self) -> None:
        """Start, wait for SIGTERM/SIGINT, stop gracefully."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("signal_received", signal=signal.Signals(signum).name)
            self._stop_requested.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not self._stop_requested.wait(1.0):
            pass
        self.stop()


def serve_in_processes(serve: Callable[[int], None], processes: int) -> int:
    """Run ``serve(index)`` in ``processes`` fresh interpreters sharing the gRPC port
    (SO_REUSEPORT), so one host uses several cores despite the GIL. SIGTERM/SIGINT are passed on
    (each child stops gracefully); if one child dies the others are stopped too, and the exit
    code says so, for the supervisor to restart the whole server. Returns the exit code."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=serve, args=(index,), name=f"grpc-{index}")
        for index in range(processes)
    ]
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal_received", signal=signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for child in children:
        child.start()
    log.info("grpc_processes_started", processes=processes)
    failed = False
    while not stopping.wait(0.5):
        if any(not child.is_alive() for child in children):
            failed = True
            log.error("grpc_process_exited", codes=[c.exitcode for c in children])
            break
    for child in children:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join()
    return 1 if failed else 0
