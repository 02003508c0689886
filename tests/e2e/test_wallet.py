"""The wallet end to end: the auth service issues the tokens, the redeem service runs as its real
processes (gunicorn web, worker, gRPC server), everything is driven over HTTP, gRPC and Kafka."""

from __future__ import annotations

import signal
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from embedded.servers import free_port, spawn
from embedded.services import SERVICES
from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from shared.persistence.database import normalise_url
from tests.e2e.conftest import RunningPlatform
from tests.support.e2e import Player, wait_until
from tests.support.kafka import TopicProbe


def serving(channel: grpc.Channel) -> bool:
    try:
        answer = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="loyalty.wallet.v1.Wallet"), timeout=2
        )
    except grpc.RpcError:
        return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="module")
def wallet_channel(platform: RunningPlatform) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(platform.endpoints["redeem"]["grpc"]) as channel:
        wait_until(lambda: serving(channel))
        yield channel


@pytest.fixture(scope="module")
def wallet(wallet_channel: grpc.Channel) -> wallet_pb2_grpc.WalletStub:
    return wallet_pb2_grpc.WalletStub(wallet_channel)  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def rewards_token(platform: RunningPlatform) -> str:
    return platform.client_token("rewards-service")


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


def register_player(platform: RunningPlatform) -> tuple[str, str]:
    """A new player account: (user id, access token)."""
    player = Player(platform.url("auth"), first_name=None)
    return player.id, player.token


def registered_and_known_to_the_wallet(platform: RunningPlatform) -> tuple[str, str]:
    """A new player whose registration the wallet has recorded (adjustments need it)."""
    player, token = register_player(platform)
    engine = create_engine(normalise_url(platform.cluster.env.postgres_url_for["redeem"]))
    try:

        def known() -> bool:
            with engine.connect() as connection:
                query = text("SELECT count(*) FROM players WHERE id = :p")
                return bool(connection.execute(query, {"p": player}).scalar_one())

        wait_until(known, what="the registration recorded by the wallet")
    finally:
        engine.dispose()
    return player, token


def credit(player: str, amount: str, key: str) -> wallet_pb2.AddTransactionRequest:
    return wallet_pb2.AddTransactionRequest(
        player_id=player,
        currency=wallet_pb2.CURRENCY_BONUS,
        type=wallet_pb2.TRANSACTION_TYPE_CREDIT,
        bonus_amount=amount,
        idempotency_key=key,
        description="Welcome bonus",
    )


def my_wallet(platform: RunningPlatform, token: str) -> dict[str, Any]:
    response = requests.get(
        f"{platform.url('redeem')}/api/v1/wallet/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_the_wallet_refuses_callers_without_a_client_token_with_wallet_write(
    platform: RunningPlatform, wallet: wallet_pb2_grpc.WalletStub
) -> None:
    player, player_token = register_player(platform)
    hotel_token = platform.client_token("hotel")  # a client, but with rewards.* scopes only
    refusals = {
        None: grpc.StatusCode.UNAUTHENTICATED,
        player_token: grpc.StatusCode.PERMISSION_DENIED,
        hotel_token: grpc.StatusCode.PERMISSION_DENIED,
    }
    for token, status in refusals.items():
        with pytest.raises(grpc.RpcError) as raised:
            wallet.AddTransaction(
                credit(player, "5.00", uuid.uuid4().hex),
                metadata=metadata(token) if token else None,
                timeout=5,
            )
        assert raised.value.code() is status
    assert my_wallet(platform, player_token)["transactions"]["total"] == 0


def test_add_transaction_is_idempotent_and_never_overdraws(
    platform: RunningPlatform, wallet: wallet_pb2_grpc.WalletStub, rewards_token: str
) -> None:
    player, player_token = register_player(platform)
    key = f"assignment-{uuid.uuid4()}"
    first = wallet.AddTransaction(
        credit(player, "25.00", key), metadata=metadata(rewards_token), timeout=5
    )
    again = wallet.AddTransaction(
        credit(player, "25", key), metadata=metadata(rewards_token), timeout=5
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert again.transaction_id == first.transaction_id
    assert again.balance.bonus_balance == "25.00"
    with pytest.raises(grpc.RpcError) as conflict:
        wallet.AddTransaction(
            credit(player, "30.00", key), metadata=metadata(rewards_token), timeout=5
        )
    assert conflict.value.code() is grpc.StatusCode.ALREADY_EXISTS
    overdraw = wallet_pb2.AddTransactionRequest(
        player_id=player,
        currency=wallet_pb2.CURRENCY_BONUS,
        type=wallet_pb2.TRANSACTION_TYPE_DEBIT,
        bonus_amount="25.01",
        idempotency_key=uuid.uuid4().hex,
    )
    with pytest.raises(grpc.RpcError) as refused:
        wallet.AddTransaction(overdraw, metadata=metadata(rewards_token), timeout=5)
    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    body = my_wallet(platform, player_token)
    assert body["balances"] == {"bonus": "25.00", "points": 0}
    assert [t["id"] for t in body["transactions"]["items"]] == [first.transaction_id]
    balance = wallet.GetBalance(
        wallet_pb2.GetBalanceRequest(player_id=player), metadata=metadata(rewards_token), timeout=5
    )
    assert balance.balance.bonus_balance == "25.00"


def test_an_admin_adjustment_reaches_the_player_and_the_notifications_topic(
    platform: RunningPlatform,
) -> None:
    player, player_token = registered_and_known_to_the_wallet(platform)
    probe = TopicProbe(platform.infra.kafka_bootstrap, "notifications")
    try:
        response = requests.post(
            f"{platform.url('redeem')}/api/v1/wallet/players/{player}/adjustments",
            json={"currency": "POINTS", "type": "CREDIT", "amount": "750", "reason": "Lost card"},
            headers={
                "Authorization": f"Bearer {platform.admin_token()}",
                "Idempotency-Key": uuid.uuid4().hex,
            },
            timeout=10,
        )
        assert response.status_code == 201, response.text
        [record] = probe.wait_for(
            lambda r: r["key"] == player and r["value"]["eventType"] == "WALLET_ADJUSTED"
        )
    finally:
        probe.close()
    transaction = response.json()["transaction"]
    assert record["value"]["content"]["transactionId"] == transaction["id"]
    assert record["value"]["content"]["balance"] == "750"
    body = my_wallet(platform, player_token)
    assert body["balances"]["points"] == 750
    assert body["transactions"]["items"][0]["description"] == "Lost card"
    assert body["transactions"]["items"][0]["source"] == "ADJUSTMENT"


def test_concurrent_adjustments_and_credits_keep_the_ledger_equal_to_the_balance(
    platform: RunningPlatform, wallet: wallet_pb2_grpc.WalletStub, rewards_token: str
) -> None:
    player, _ = registered_and_known_to_the_wallet(platform)
    admin_token = platform.admin_token()
    url = f"{platform.url('redeem')}/api/v1/wallet/players/{player}/adjustments"

    def adjustment(index: int) -> int:
        kind, amount = ("DEBIT", "3.00") if index % 2 else ("CREDIT", "1.00")
        response = requests.post(
            url,
            json={"currency": "BONUS", "type": kind, "amount": amount, "reason": "race"},
            headers={
                "Authorization": f"Bearer {admin_token}",
                "Idempotency-Key": f"race-{player}-{index}",
            },
            timeout=30,
        )
        return response.status_code

    def service_credit(index: int) -> int:
        wallet.AddTransaction(
            credit(player, "1.50", f"{player}-{index}"),
            metadata=metadata(rewards_token),
            timeout=30,
        )
        return 201

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(adjustment, i) for i in range(30)]
        futures += [pool.submit(service_credit, i) for i in range(30)]
        statuses = [f.result() for f in futures]
    assert set(statuses) <= {201, 409}
    staff = {"Authorization": f"Bearer {admin_token}"}
    first_page = requests.get(
        f"{platform.url('redeem')}/api/v1/wallet/players/{player}?pageSize=100",
        headers=staff,
        timeout=10,
    ).json()
    items = first_page["transactions"]["items"]
    assert first_page["transactions"]["total"] == len(items) == statuses.count(201)
    total = sum(
        Decimal(t["amount"]) if t["type"] == "CREDIT" else -Decimal(t["amount"]) for t in items
    )
    assert Decimal(first_page["balances"]["bonus"]) == total >= 0


def test_a_deactivated_player_is_refused_by_the_wallet_within_seconds(
    platform: RunningPlatform,
) -> None:
    player, player_token = register_player(platform)
    assert my_wallet(platform, player_token)["playerId"] == player
    deactivated = requests.post(
        f"{platform.url('auth')}/api/v1/auth/users/{player}/deactivate",
        headers={"Authorization": f"Bearer {platform.admin_token()}"},
        timeout=10,
    )
    assert deactivated.status_code == 200, deactivated.text

    def refused() -> bool:
        response = requests.get(
            f"{platform.url('redeem')}/api/v1/wallet/me",
            headers={"Authorization": f"Bearer {player_token}"},
            timeout=10,
        )
        return response.status_code == 401

    wait_until(refused, timeout=30)


@pytest.mark.parametrize("processes", [1, 2])
def test_the_grpc_server_process_stops_gracefully_on_sigterm(
    platform: RunningPlatform, tmp_path: Any, processes: int
) -> None:
    redeem = next(s for s in SERVICES if s.name == "redeem")
    env = platform.cluster.env.for_service(redeem)
    port = free_port()
    env["GRPC_PORT"] = str(port)
    env["LOG_LEVEL"] = "INFO"
    env["GRPC_PROCESSES"] = str(processes)
    log = tmp_path / "grpc.log"
    process = spawn(
        "redeem-grpc-sigterm", [sys.executable, "-m", "redeem_service.grpc_server"], log, env
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            wait_until(lambda: serving(channel))
            stub = wallet_pb2_grpc.WalletStub(channel)  # type: ignore[no-untyped-call]
            answer = stub.GetBalance(
                wallet_pb2.GetBalanceRequest(player_id="nobody"),
                metadata=metadata(platform.client_token("rewards-service")),
                timeout=5,
            )
            assert answer.balance.points_balance == 0
        wait_until(lambda: log.read_text().count("grpc_server_started") == processes)
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=15) == 0
    finally:
        process.stop()
    text = log.read_text()
    assert text.count("grpc_server_stopping") == processes
    assert text.count("grpc_server_stopped") == processes
