"""Listening addresses, IPv6 included, as gunicorn, gRPC and the metrics server read them."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from shared.addresses import bare_host, host_port
from shared.grpc.server import GrpcServer, GrpcServerSettings
from shared.observability.metrics import serve_metrics
from tests.support.network import has_ipv6_loopback


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1:80"),
        ("0.0.0.0", "0.0.0.0:80"),  # noqa: S104
        ("::1", "[::1]:80"),
        ("[::1]", "[::1]:80"),
        ("::", "[::]:80"),
        ("wallet.internal", "wallet.internal:80"),
    ],
)
def test_host_and_port(host: str, address: str) -> None:
    assert host_port(host, 80) == address
    assert bare_host(address.rsplit(":", 1)[0]) == host.strip("[]")


ipv6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback on this machine")


@ipv6
@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_the_grpc_server_binds_an_ipv6_host(host: str) -> None:
    server = GrpcServer(GrpcServerSettings(host=host, port=0))
    try:
        assert server.port > 0
        with socket.create_connection(("::1", server.port), timeout=2):
            pass
    finally:
        server.stop(0)


@ipv6
def test_the_metrics_server_binds_an_ipv6_host_in_brackets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind(("::1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("LISTEN_HOST", "[::1]")
    serve_metrics(port)
    with urllib.request.urlopen(f"http://[::1]:{port}/metrics", timeout=2) as answer:
        assert answer.status == 200
