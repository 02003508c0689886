"""Fixtures for the wallet service against real PostgreSQL, Redis and Kafka, with tokens signed by
a test key published from a real JWKS endpoint (the verifier is the production one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from embedded.services import redis_url_for
from protos.loyalty.wallet.v1 import wallet_pb2_grpc
from redeem_service.app import create_app
from redeem_service.container import Container, build_container
from redeem_service.grpc_server import create_server
from shared.grpc.server import GrpcServer
from tests.support.infra import Infra
from tests.support.tokens import AUDIENCE, ISSUER, JwksServer, TestSigner

REDEEM_REDIS_DB = 2


@pytest.fixture(scope="session")
def signer() -> TestSigner:
    return TestSigner()


@pytest.fixture(scope="session")
def jwks(signer: TestSigner) -> Iterator[JwksServer]:
    server = JwksServer(signer)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redeem_database(infra: Infra) -> str:
    return infra.database("redeem")


def redeem_overrides(infra: Infra, database_url: str, jwks_url: str) -> dict[str, Any]:
    return {
        "database": {"url": database_url, "pool": {"size": 20, "max_overflow": 10}},
        "redis": {"url": redis_url_for(infra.redis_url, REDEEM_REDIS_DB)},
        "kafka": infra.kafka_settings,
        "security": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_url},
        "grpc": {"host": "127.0.0.1", "port": 0, "max_workers": 8, "grace_seconds": 3},
    }


@pytest.fixture(scope="session")
def redeem_container(infra: Infra, redeem_database: str, jwks: JwksServer) -> Iterator[Container]:
    container = build_container(redeem_overrides(infra, redeem_database, jwks.url))
    yield container
    container.shutdown_resources()
    # Drop the singletons holding the Kafka producer too: a live librdkafka handle keeps
    # reconnecting (and logging) once the broker is stopped at the end of the session.
    container.reset_singletons()


@pytest.fixture(autouse=True)
def _clean_redeem(redeem_container: Container) -> Iterator[None]:
    yield
    with redeem_container.core.database().begin() as connection:
        connection.execute(
            text("TRUNCATE redemptions, transactions, wallets, players, outbox, processed_events")
        )
    redeem_container.core.redis().flushdb()


@pytest.fixture(scope="session")
def redeem_app(redeem_container: Container) -> Flask:
    app = create_app(container=redeem_container)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(redeem_app: Flask) -> FlaskClient:
    return redeem_app.test_client()


@pytest.fixture(scope="session")
def grpc_server(redeem_container: Container) -> Iterator[GrpcServer]:
    """The real wallet servicer and interceptors in this process, on a free port."""
    server = create_server(redeem_container)
    server.start()
    yield server
    server.stop(0)


@pytest.fixture(scope="session")
def channel(grpc_server: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{grpc_server.port}") as opened:
        yield opened


def wallet_stub_for(channel: grpc.Channel) -> wallet_pb2_grpc.WalletStub:
    return wallet_pb2_grpc.WalletStub(channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="session")
def wallet_stub(channel: grpc.Channel) -> wallet_pb2_grpc.WalletStub:
    return wallet_stub_for(channel)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)
