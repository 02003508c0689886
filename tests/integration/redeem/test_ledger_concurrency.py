"""Admin adjustments (REST) and service credits and debits (gRPC) racing on one wallet never
break the ledger: the balance always equals the sum of the transactions and never goes below 0."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import grpc
import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from redeem_service.container import Container
from tests.integration.redeem.conftest import bearer, call_metadata
from tests.integration.redeem.support import add_request, ledger, new_player, registered_player
from tests.support.tokens import TestSigner


def test_concurrent_adjustments_and_credits_keep_sum_of_transactions_equal_to_balance(
    redeem_app: Flask,
    wallet_stub: wallet_pb2_grpc.WalletStub,
    redeem_container: Container,
    signer: TestSigner,
) -> None:
    player = registered_player(redeem_container)
    admin_token = signer.user_token("admin-1", "admin")
    metadata = call_metadata(signer.client_token())
    outcomes: list[int] = []

    def adjustment(index: int) -> int:
        # Debits of 4 against credits of 1 and 2: many debits must be refused.
        kind = "DEBIT" if index % 2 else "CREDIT"
        body = {"currency": "BONUS", "type": kind, "amount": "4.00" if kind == "DEBIT" else "1.00"}
        response = redeem_app.test_client().post(
            f"/api/v1/wallet/players/{player}/adjustments",
            json={**body, "reason": f"race {index}"},
            headers={**bearer(admin_token), "Idempotency-Key": f"race-{index}"},
        )
        return response.status_code

    def service_credit(index: int) -> int:
        try:
            wallet_stub.AddTransaction(
                add_request(player, "2.00", key=f"{player}-credit-{index}"),
                metadata=metadata,
                timeout=10,
            )
        except grpc.RpcError as error:
            return 500 + int(error.code().value[0])
        return 201

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(adjustment, i) for i in range(40)]
        futures += [pool.submit(service_credit, i) for i in range(40)]
        outcomes = [f.result() for f in futures]

    assert set(outcomes) == {201, 409}  # applied, or refused for lack of balance
    totals = ledger(redeem_container.core.database(), player)
    assert totals["bonus"] == totals["bonus_total"]
    assert totals["bonus"] >= Decimal(0)
    assert totals["transactions"] == outcomes.count(201)
    with redeem_container.uow() as uow:
        assert list(uow.transactions.discrepancies()) == []


def test_the_ledger_check_finds_a_balance_changed_behind_the_ledgers_back(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    wallet_stub.AddTransaction(
        add_request(player, 30, currency=wallet_pb2.CURRENCY_POINTS),
        metadata=call_metadata(signer.client_token()),
        timeout=5,
    )
    with redeem_container.core.database().begin() as connection:
        connection.execute(
            text("UPDATE wallets SET points_balance = 31 WHERE player_id = :p"), {"p": player}
        )
    with redeem_container.uow() as uow:
        [found] = uow.transactions.discrepancies()
    assert (found.player_id, found.currency.value) == (player, "POINTS")
    assert (found.balance, found.transactions_total) == (Decimal(31), Decimal(30))


def test_the_transaction_log_refuses_updates_and_deletes(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    wallet_stub.AddTransaction(
        add_request(player, "1.00", key=uuid.uuid4().hex),
        metadata=call_metadata(signer.client_token()),
        timeout=5,
    )
    engine = redeem_container.core.database()
    for statement in (
        "UPDATE transactions SET amount = 100 WHERE player_id = :p",
        "DELETE FROM transactions WHERE player_id = :p",
    ):
        with engine.connect() as connection, pytest.raises(IntegrityError, match="append-only"):
            connection.execute(text(statement), {"p": player})
