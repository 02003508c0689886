"""The wallet's gRPC server (``python -m redeem_service.grpc_server``): ``loyalty.wallet.v1.Wallet``
and the standard health service on ``GRPC_PORT``, for internal callers with ``wallet.write``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from redeem_service.container import Container, build_container
from redeem_service.controllers import grpc_wallet
from shared.grpc.interceptors import (
    BearerAuthInterceptor,
    CallContextInterceptor,
    ServerInterceptor,
)
from shared.grpc.server import GrpcServer, GrpcServerSettings, serve_in_processes
from shared.observability.logging import configure_logging_from
from shared.warm_up import core_warm_up, warm_up


def create_server(
    container: Container, outer_interceptors: Sequence[ServerInterceptor] = ()
) -> GrpcServer:
    """The server with the wallet servicer behind the call-context and token interceptors
    (``outer_interceptors`` wrap them all: fault injection in tests)."""
    settings = container.config()
    grpc_settings = GrpcServerSettings.from_mapping(settings["grpc"])
    server = GrpcServer(
        grpc_settings,
        interceptors=[
            *outer_interceptors,
            CallContextInterceptor(
                access_log=grpc_settings.access_log,
                slow_call_seconds=grpc_settings.slow_call_seconds,
            ),
            BearerAuthInterceptor(
                container.token_verifier(),
                required_scopes=[settings["grpc"]["required_scope"]],
                clients_only=True,
            ),
        ],
    )
    server.add_service(grpc_wallet.SERVICE_NAME, grpc_wallet.register, grpc_wallet.WalletServicer())
    return server


def serve(index: int = 0) -> None:
    """One server process (``index`` numbers the processes of a multi-process server)."""
    container = build_container()
    settings = container.config()
    configure_logging_from("redeem-grpc", settings)
    metrics_port = int(settings["grpc"].get("metrics_port") or 0)
    if metrics_port and index:
        container.config.grpc.metrics_port.from_value(metrics_port + index)
    server = create_server(container)
    warm_up(core_warm_up(container.core, container.key_resolver()))
    try:
        server.serve_forever()
    finally:
        container.shutdown_resources()


def main() -> None:
    settings = build_container().config()
    processes = GrpcServerSettings.from_mapping(settings["grpc"]).processes
    if processes == 1:
        serve()
        return
    configure_logging_from("redeem-grpc", settings)
    sys.exit(serve_in_processes(serve, processes))


if __name__ == "__main__":
    main()
