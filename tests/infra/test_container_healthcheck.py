"""The image's health check probes the address the server listens on (``LISTEN_HOST`` /
``GRPC_HOST``), not always 127.0.0.1."""

from __future__ import annotations

import importlib.util
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.network import has_ipv6_loopback

ROOT = Path(__file__).resolve().parents[2]


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "loyalty_healthcheck", ROOT / "infra" / "docker" / "healthcheck.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


@pytest.mark.parametrize(
    ("listen_host", "probed"),
    [
        (None, "127.0.0.1"),
        ("", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),  # noqa: S104 - an address read, nothing bound
        ("::", "[::1]"),
        ("[::]", "[::1]"),
        ("::1", "[::1]"),
        ("[fd00::5]", "[fd00::5]"),
        ("10.0.1.5", "10.0.1.5"),
    ],
)
def test_the_probe_targets_the_listening_address(listen_host: str | None, probed: str) -> None:
    assert healthcheck.probe_host(listen_host) == probed


class _Live(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health/live" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server6(HTTPServer):
    address_family = socket.AF_INET6


@pytest.fixture
def ipv6_web() -> Iterator[int]:
    if not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    server = _Server6(("::1", 0), _Live)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_web_process_on_ipv6_only_is_found_healthy(
    ipv6_web: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", str(ipv6_web))
    monkeypatch.setenv("PROCESS", "web")
    monkeypatch.setenv("LISTEN_HOST", "::1")
    assert healthcheck.main() == 0
    monkeypatch.delenv("LISTEN_HOST")  # what the check did before: 127.0.0.1 answers nothing
    assert healthcheck.main() == 1
