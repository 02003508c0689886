"""The rewards service's wallet adapter against the real wallet gRPC server: idempotent credits,
a lost answer retried without a second credit, an outage failing fast through the breaker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
import pybreaker
import pytest
from sqlalchemy import text

from embedded.servers import free_port
from redeem_service.container import Container as RedeemContainer
from redeem_service.grpc_server import create_server
from rewards_service.adapters.wallet import GrpcWalletGateway
from rewards_service.domain.exceptions import WalletRefused, WalletUnavailable
from shared.grpc.interceptors import ServerInterceptor, wrap_handler
from shared.grpc.server import GrpcServer
from shared.observability.logging import configure_logging
from shared.security.client_credentials import ClientCredentialsTokens
from tests.integration.claims.conftest import CLIENT_ID, CLIENT_SECRET
from tests.support.tokens import TokenEndpoint


class WalletCalls(ServerInterceptor):
    """Wraps the wallet's unary calls in ``behave`` (the first ``count`` calls misbehave)."""

    def __init__(self, count: int) -> None:
        self.remaining = count
        self._lock = threading.Lock()

    def misbehaves(self) -> bool:
        with self._lock:
            misbehave, self.remaining = self.remaining > 0, max(0, self.remaining - 1)
        return misbehave

    def behave(self, inner: Callable[..., Any], request: Any, context: grpc.ServicerContext) -> Any:
        raise NotImplementedError

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None or "Wallet" not in details.method:
            return handler
        # The server reads a unary call's request inside the interceptors (after the token
        # check), so what reaches this one is a stream-request handler: wrap whatever it has.
        return wrap_handler(handler, self.behave)


class LoseAnswers(WalletCalls):
    """Lets the wallet record the call, then holds the answer past the caller's deadline."""

    def __init__(self, count: int, hold_seconds: float) -> None:
        super().__init__(count)
        self.hold = hold_seconds

    def behave(self, inner: Callable[..., Any], request: Any, context: grpc.ServicerContext) -> Any:
        response = inner(request, context)
        if self.misbehaves():
            time.sleep(self.hold)
        return response


class Overloaded(WalletCalls):
    """Refuses the first ``count`` wallet calls with RESOURCE_EXHAUSTED, as a server at its
    concurrent-call limit does."""

    def behave(self, inner: Callable[..., Any], request: Any, context: grpc.ServicerContext) -> Any:
        if self.misbehaves():
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "too many calls")
        return inner(request, context)


def start_wallet(
    container: RedeemContainer, port: int, lose: ServerInterceptor | None = None
) -> GrpcServer:
    container.config.grpc.port.from_value(port)
    server = create_server(container, outer_interceptors=[lose] if lose else [])
    server.start()
    return server


def gateway(
    port: int, endpoint: TokenEndpoint, secret: str = CLIENT_SECRET, **options: Any
) -> GrpcWalletGateway:
    tokens = ClientCredentialsTokens(endpoint.url, CLIENT_ID, secret, "wallet.write")
    settings = {
        "deadline_seconds": 0.5,
        "attempts": 3,
        "total_seconds": 5.0,
        "breaker_fail_max": 3,
        "breaker_reset_seconds": 1.0,
        **options,
    }
    return GrpcWalletGateway(f"127.0.0.1:{port}", tokens, **settings)


def credits(container: RedeemContainer, player: str) -> list[Any]:
    with container.core.database().connect() as connection:
        return list(
            connection.execute(
                text("SELECT idempotency_key, amount FROM transactions WHERE player_id = :p"),
                {"p": player},
            ).all()
        )


def credit(wallet: GrpcWalletGateway, player: str, key: str, amount: str = "25.00") -> Any:
    return wallet.credit_bonus(
        player, Decimal(amount), "Promotion: Spring", {"promotionId": "p1"}, key
    )


def test_a_credit_is_recorded_once_per_key(redeem_container, token_endpoint):
    port = free_port()
    server = start_wallet(redeem_container, port)
    wallet = gateway(port, token_endpoint)
    try:
        player, key = str(uuid.uuid4()), f"{uuid.uuid4()}:1"
        first = credit(wallet, player, key)
        again = credit(wallet, player, key)
    finally:
        wallet.close()
        server.stop(0)
    assert (first.replayed, again.replayed) == (False, True)
    assert first.transaction_id == again.transaction_id
    assert first.bonus_balance == Decimal("25.00")
    assert len(credits(redeem_container, player)) == 1
    assert token_endpoint.issued >= 1


def test_a_lost_answer_is_retried_without_a_second_credit(redeem_container, token_endpoint):
    port = free_port()
    lose = LoseAnswers(count=1, hold_seconds=1.5)
    server = start_wallet(redeem_container, port, lose)
    wallet = gateway(port, token_endpoint, deadline_seconds=0.5)
    try:
        player, key = str(uuid.uuid4()), f"{uuid.uuid4()}:1"
        result = credit(wallet, player, key)
    finally:
        wallet.close()
        server.stop(0)
    assert lose.remaining == 0  # the first answer was lost after the wallet recorded it
    assert result.replayed  # the retry got the first result back
    assert [(k, a) for k, a in credits(redeem_container, player)] == [(key, Decimal("25.00"))]


def test_an_outage_fails_fast_opens_the_breaker_and_recovers(redeem_container, token_endpoint):
    port = free_port()  # nothing listens yet: the wallet is down
    wallet = gateway(
        port, token_endpoint, attempts=2, breaker_fail_max=3, breaker_reset_seconds=1.0
    )
    player = str(uuid.uuid4())
    try:
        for n in range(3):
            with pytest.raises(WalletUnavailable):
                credit(wallet, player, f"k-{n}")
        assert wallet.breaker_state == "open"
        with pytest.raises(WalletUnavailable) as refused:
            credit(wallet, player, "k-open")
        # Refused by the open breaker itself, without a call to the wallet.
        assert isinstance(refused.value.__cause__, pybreaker.CircuitBreakerError)
        server = start_wallet(redeem_container, port)
        try:
            time.sleep(1.2)  # the breaker's reset timeout: the next call is a trial
            result = credit(wallet, player, "k-after")
            assert not result.replayed
            assert wallet.breaker_state == "closed"
        finally:
            server.stop(0)
    finally:
        wallet.close()
    assert [k for k, _ in credits(redeem_container, player)] == ["k-after"]


def test_a_refusal_is_an_answer_not_an_outage(redeem_container, token_endpoint):
    port = free_port()
    server = start_wallet(redeem_container, port)
    wallet = gateway(port, token_endpoint, breaker_fail_max=1)
    try:
        player, key = str(uuid.uuid4()), "same-key"
        credit(wallet, player, key, "10.00")
        with pytest.raises(WalletRefused):
            credit(wallet, player, key, "99.00")  # same key, other content
        assert wallet.breaker_state == "closed"
    finally:
        wallet.close()
        server.stop(0)


def test_an_overloaded_wallet_is_an_outage_retried_not_a_refusal(redeem_container, token_endpoint):
    port = free_port()
    overloaded = Overloaded(count=2)
    server = start_wallet(redeem_container, port, overloaded)
    wallet = gateway(port, token_endpoint, breaker_fail_max=5)
    try:
        player = str(uuid.uuid4())
        result = credit(wallet, player, "k-busy")  # the third attempt gets through
        assert not result.replayed
        overloaded.remaining = 10
        with pytest.raises(WalletUnavailable):  # 503 for the player, the claim stays open
            credit(wallet, player, "k-still-busy")
    finally:
        wallet.close()
        server.stop(0)
    assert [k for k, _ in credits(redeem_container, player)] == ["k-busy"]


@pytest.fixture(scope="session")
def service_logging() -> None:
    """Logging set up as a service's in the test profile: records carry their event dicts."""
    configure_logging("rewards", level="WARNING")


@pytest.fixture
def structured_logs(service_logging: None, caplog: pytest.LogCaptureFixture) -> Any:
    return caplog


def test_without_a_token_the_wallet_is_unavailable(
    redeem_container, token_endpoint, structured_logs
):
    port = free_port()
    server = start_wallet(redeem_container, port)
    wallet = gateway(port, token_endpoint, secret="wrong")
    try:
        for _ in range(2):
            with pytest.raises(WalletUnavailable):
                credit(wallet, str(uuid.uuid4()), "k")
    finally:
        wallet.close()
        server.stop(0)
    # The caller only sees an unreachable wallet: the log says it is the token, and where it
    # was refused — once, not at each of the attempts of every call.
    [refused] = [
        r.msg
        for r in structured_logs.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "client_token_unavailable"
    ]
    assert refused["token_url"] == token_endpoint.url
    assert refused["status"] == 401
    assert refused["client_id"] == CLIENT_ID
