"""Callers that open wallet calls and never send the request message, against a real server on
a real port: they may not take the server's few threads away from everyone else."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from protos.loyalty.wallet.v1 import wallet_pb2
from redeem_service.container import Container
from redeem_service.grpc_server import create_server
from shared.grpc.server import GrpcServer
from tests.integration.redeem.conftest import call_metadata, wallet_stub_for
from tests.integration.redeem.support import add_request, new_player, wait_until
from tests.support.tokens import TestSigner

# More than the server's threads (max_workers is 8 in the test settings).
STALLED = 12
HEALTH = "grpc.health.v1.Health"


@contextmanager
def wallet_server(container: Container, request_wait_seconds: float) -> Iterator[GrpcServer]:
    with container.config.grpc.request_wait_seconds.override(request_wait_seconds):
        server = create_server(container)
    server.start()
    try:
        yield server
    finally:
        server.stop(0)


@contextmanager
def stalled_calls(
    port: int,
    metadata: tuple[tuple[str, str], ...] | None = None,
    method: str = "/loyalty.wallet.v1.Wallet/GetBalance",
    count: int = STALLED,
) -> Iterator[list[Any]]:
    """``count`` calls of ``method`` on a connection of their own, with no deadline, whose
    request message never comes (until the block ends)."""
    release = threading.Event()

    def never_sent() -> Iterator[bytes]:
        release.wait()
        yield from ()

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        raw = channel.stream_unary(
            method, request_serializer=lambda data: data, response_deserializer=lambda data: data
        )
        calls = [raw.future(never_sent(), metadata=metadata) for _ in range(count)]
        try:
            yield calls
        finally:
            release.set()
            for call in calls:
                call.cancel()  # type: ignore[no-untyped-call]


def all_done(calls: list[Any]) -> bool:
    return all(call.done() for call in calls)


def counted(
    metric: str,
    service: str = "loyalty.wallet.v1.Wallet",
    method: str = "GetBalance",
    **labels: str,
) -> float:
    value = REGISTRY.get_sample_value(metric, {"service": service, "method": method, **labels})
    return value or 0.0


def answers_promptly(port: int, signer: TestSigner, health_check: bool = True) -> None:
    """The health check and a proper call both answer within a second each."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        if health_check:
            health = health_pb2_grpc.HealthStub(channel)
            checked = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            assert checked.status == health_pb2.HealthCheckResponse.SERVING
        metadata = call_metadata(signer.client_token())
        answer = wallet_stub_for(channel).AddTransaction(
            add_request(new_player(), "1.00"), metadata=metadata, timeout=1
        )
        assert answer.balance.bonus_balance == "1.00"


def test_calls_without_a_token_are_refused_without_waiting_for_their_request(
    redeem_container: Container, signer: TestSigner
) -> None:
    # A long wait for the request: only the refusal before the wait can keep the server free.
    refused = counted("grpc_server_handled_total", code="UNAUTHENTICATED")
    with wallet_server(redeem_container, request_wait_seconds=60) as server:
        for metadata in (None, call_metadata("not-a-jwt")):
            with stalled_calls(server.port, metadata) as calls:
                answers_promptly(server.port, signer)
                wait_until(partial(all_done, calls), timeout=3)
                for call in calls:
                    assert call.exception().code() is grpc.StatusCode.UNAUTHENTICATED
    # Refusals are measured like every call (and logged as failed ones).
    assert counted("grpc_server_handled_total", code="UNAUTHENTICATED") == refused + 2 * STALLED


def test_a_client_that_never_sends_its_request_is_cut_off_after_the_wait(
    redeem_container: Container, signer: TestSigner
) -> None:
    exceeded = counted("grpc_server_request_wait_exceeded_total")
    with wallet_server(redeem_container, request_wait_seconds=0.5) as server:
        metadata = call_metadata(signer.client_token())
        with stalled_calls(server.port, metadata) as calls:
            wait_until(partial(all_done, calls), timeout=3)
            # The server cancels them: the status it would send cannot reach a cancelled call.
            for call in calls:
                assert call.exception().code() is grpc.StatusCode.CANCELLED
            answers_promptly(server.port, signer)
    assert counted("grpc_server_request_wait_exceeded_total") == exceeded + STALLED


def test_a_call_that_ends_without_a_request_is_invalid_argument(
    redeem_container: Container, signer: TestSigner
) -> None:
    with (
        wallet_server(redeem_container, request_wait_seconds=5) as server,
        grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        raw = channel.stream_unary(
            "/loyalty.wallet.v1.Wallet/GetBalance",
            request_serializer=wallet_pb2.GetBalanceRequest.SerializeToString,
            response_deserializer=wallet_pb2.GetBalanceResponse.FromString,
        )
        metadata = call_metadata(signer.client_token())
        with pytest.raises(grpc.RpcError) as raised:
            raw(iter(()), metadata=metadata, timeout=2)
        assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        answer = raw(
            iter([wallet_pb2.GetBalanceRequest(player_id=new_player())]),
            metadata=metadata,
            timeout=2,
        )
        assert answer.balance.points_balance == 0


def test_health_checks_that_never_send_their_request_hold_few_threads_briefly(
    redeem_container: Container, signer: TestSigner
) -> None:
    # The health service needs no token: anyone may open its calls. Three times the server's
    # threads of them, with a long wait for authenticated calls' messages.
    stalled = 3 * STALLED
    refused = counted("grpc_server_request_wait_refused_total", HEALTH, "Check")
    exceeded = counted("grpc_server_request_wait_exceeded_total", HEALTH, "Check")
    with (
        wallet_server(redeem_container, request_wait_seconds=30) as server,
        stalled_calls(server.port, method=f"/{HEALTH}/Check", count=stalled) as calls,
    ):
        # At most two of them wait, for half a second from their arrival: a proper call
        # answers meanwhile, and after them a proper health check.
        answers_promptly(server.port, signer, health_check=False)
        wait_until(partial(all_done, calls), timeout=2)
        answers_promptly(server.port, signer)
        codes = Counter(call.exception().code() for call in calls)
    assert codes[grpc.StatusCode.RESOURCE_EXHAUSTED] >= stalled - 2, codes
    assert set(codes) <= {grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}, codes
    assert (
        counted("grpc_server_request_wait_refused_total", HEALTH, "Check") - refused
        == codes[grpc.StatusCode.RESOURCE_EXHAUSTED]
    )
    assert (
        counted("grpc_server_request_wait_exceeded_total", HEALTH, "Check") - exceeded
        == codes[grpc.StatusCode.CANCELLED]
    )


def test_a_call_that_queued_past_its_wait_is_cut_off_when_it_gets_a_thread(
    redeem_container: Container, signer: TestSigner
) -> None:
    # Three rounds of the server's eight threads: each round waits a second when the wait
    # starts with the thread, all of them a second when it starts with the call's arrival.
    metadata = call_metadata(signer.client_token())
    with (
        wallet_server(redeem_container, request_wait_seconds=1) as server,
        stalled_calls(server.port, metadata, count=24) as calls,
    ):
        wait_until(partial(all_done, calls), timeout=2)
        answers_promptly(server.port, signer)
