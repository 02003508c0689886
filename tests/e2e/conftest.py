"""End-to-end fixtures: every service that exists runs as real processes (gunicorn, workers,
gRPC) against the session's servers, started the way the platform runner starts them."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.engine import make_url

from embedded.cluster import ServiceCluster
from embedded.gateway import start_gateway
from embedded.servers import ManagedProcess, free_port
from embedded.services import SERVICES, PlatformEnv, available_services
from shared.persistence.migrations import drop_database, ensure_database
from tests.support.infra import Infra


@dataclass
class RunningPlatform:
    cluster: ServiceCluster
    endpoints: dict[str, dict[str, Any]]
    credentials: dict[str, Any]
    infra: Infra
    gateway: str | None = None

    def url(self, service: str) -> str:
        return str(self.endpoints[service]["url"])

    def admin_token(self) -> str:
        admin = self.credentials["admin"]
        response = requests.post(
            f"{self.url('auth')}/api/v1/auth/login",
            json={"email": admin["email"], "password": admin["password"]},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["accessToken"])

    def client_token(self, client_id: str, scope: str | None = None) -> str:
        client = self.credentials["clients"][client_id]
        data = {"grant_type": "client_credentials"}
        if scope:
            data["scope"] = scope
        response = requests.post(
            f"{self.url('auth')}/oauth2/token",
            data=data,
            auth=(client["clientId"], client["clientSecret"]),
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


@pytest.fixture(scope="session")
def platform(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    services = available_services()
    admin_url = make_url(infra.postgres_admin_url)
    databases = {
        s.database: admin_url.set(database=f"{s.database}_e2e_{infra.run_id}").render_as_string(
            hide_password=False
        )
        for s in services
        if s.database
    }
    for url in databases.values():
        ensure_database(url)
    ports = {s.name: free_port() for s in SERVICES}
    auth_url = f"http://127.0.0.1:{ports['auth']}"
    env = PlatformEnv(
        postgres_url_for=databases,
        redis_url=infra.redis_url,
        kafka_bootstrap=infra.kafka_bootstrap,
        mongodb_url=infra.mongodb_url,
        issuer=auth_url,
        auth_internal_url=auth_url,
        secrets={
            "AUTH_KEY_ENCRYPTION_SECRET": secrets.token_urlsafe(24),
            "AUTH_CLIENT_SECRET_PEPPER": secrets.token_urlsafe(24),
        },
        profile="test",
        ports=ports,
        grpc_ports={"redeem": free_port()},
        extra={
            "MONGODB_DATABASE": f"notifications_e2e_{infra.run_id}",
            # As the platform runs (the test profile's default is WARNING): tests read access
            # lines and lifecycle events from the logs.
            "LOG_LEVEL": "INFO",
            # Long enough for a test to send the registration an event is waiting for.
            "LOYALTY__EARNING__PARK_WAIT_SECONDS": "10",
        },
    )
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    cluster = ServiceCluster(env=env, services=services, log_dir=log_dir, web_workers=2)
    gateway: ManagedProcess | None = None
    try:
        cluster.migrate()
        credentials = cluster.seed()
        endpoints = cluster.start_all()
        gateway_url = None
        nginx = shutil.which("nginx")
        if nginx:
            # The gateway in front of the same processes, as the platform runner starts it.
            gateway_port = free_port()
            gateway = start_gateway(
                nginx, gateway_port, ports, log_dir / "nginx", log_dir / "nginx.log"
            )
            gateway_url = f"http://127.0.0.1:{gateway_port}"
        yield RunningPlatform(cluster, endpoints, credentials, infra, gateway_url)
    finally:
        if gateway is not None:
            gateway.stop()
        cluster.stop()
        for url in databases.values():
            drop_database(url)
