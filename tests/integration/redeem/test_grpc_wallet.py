"""The gRPC Wallet with its real servicer, interceptors and database, served in this process."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import grpc
import pytest
from dependency_injector import providers
from flask.testing import FlaskClient
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text

from protos.loyalty.wallet.v1 import wallet_pb2, wallet_pb2_grpc
from redeem_service.container import Container
from redeem_service.grpc_server import create_server
from tests.integration.redeem.conftest import bearer, call_metadata, wallet_stub_for
from tests.integration.redeem.support import (
    add_request,
    ledger,
    new_player,
    transaction_count,
    wait_until,
    waiting_on_locks,
)
from tests.support.tokens import TestSigner


def error_code(error: grpc.RpcError) -> str | None:
    trailers: Any = error.trailing_metadata()
    for key, value in trailers or ():
        if key == "error-code":
            return str(value)
    return None


def test_the_health_service_answers_without_a_token(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "loyalty.wallet.v1.Wallet"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED"),
        ("not-a-jwt", grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID"),
        ("expired", grpc.StatusCode.UNAUTHENTICATED, "TOKEN_EXPIRED"),
        ("foreign", grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID"),
        ("player", grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN"),
        ("admin", grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN"),
        ("wrong-scope", grpc.StatusCode.PERMISSION_DENIED, "FORBIDDEN"),
    ],
)
def test_calls_without_a_client_token_with_wallet_write_are_refused(
    wallet_stub: wallet_pb2_grpc.WalletStub,
    redeem_container: Container,
    signer: TestSigner,
    token: str | None,
    status: grpc.StatusCode,
    code: str,
) -> None:
    tokens = {
        "not-a-jwt": "not-a-jwt",
        "expired": signer.token("rewards-service", scope="wallet.write", lifetime=-60),
        "foreign": TestSigner().client_token(),
        "player": signer.user_token("p1", "player"),
        "admin": signer.user_token("a1", "admin"),
        "wrong-scope": signer.client_token("hotel", "rewards.read rewards.write"),
    }
    metadata = call_metadata(tokens[token]) if token else None
    player = new_player()
    calls: list[Callable[[], object]] = [
        lambda: wallet_stub.AddTransaction(add_request(player), metadata=metadata, timeout=5),
        lambda: wallet_stub.GetBalance(
            wallet_pb2.GetBalanceRequest(player_id=player), metadata=metadata, timeout=5
        ),
        lambda: wallet_stub.GetTransaction(
            wallet_pb2.GetTransactionRequest(idempotency_key="k"), metadata=metadata, timeout=5
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() is status
        assert error_code(raised.value) == code
    assert transaction_count(redeem_container.core.database(), player) == 0


def test_a_credit_returns_its_transaction_and_the_new_balances(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    first = wallet_stub.AddTransaction(
        add_request(
            player,
            "25.5",
            description="Welcome bonus",
            additional_data=json.dumps({"promotionId": "promo-1"}),
        ),
        metadata=metadata,
        timeout=5,
    )
    points = wallet_stub.AddTransaction(
        add_request(player, 120, currency=wallet_pb2.CURRENCY_POINTS), metadata=metadata, timeout=5
    )
    assert not first.replayed
    assert first.transaction_id
    assert first.balance.bonus_balance == "25.50"
    assert (points.balance.bonus_balance, points.balance.points_balance) == ("25.50", 120)
    balance = wallet_stub.GetBalance(
        wallet_pb2.GetBalanceRequest(player_id=player), metadata=metadata, timeout=5
    )
    assert (balance.balance.bonus_balance, balance.balance.points_balance) == ("25.50", 120)
    with redeem_container.core.database().connect() as connection:
        row = connection.execute(
            text(
                "SELECT actor, source, description, additional_data FROM transactions "
                "WHERE id = :id"
            ),
            {"id": first.transaction_id},
        ).one()
    assert row.actor == "rewards-service"
    assert row.source == "SERVICE"
    assert row.description == "Welcome bonus"
    assert row.additional_data == {"promotionId": "promo-1"}


def test_a_player_without_transactions_has_zero_balances(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    answer = wallet_stub.GetBalance(
        wallet_pb2.GetBalanceRequest(player_id=new_player()),
        metadata=call_metadata(signer.client_token()),
        timeout=5,
    )
    assert (answer.balance.bonus_balance, answer.balance.points_balance) == ("0.00", 0)


def test_the_same_key_and_content_returns_the_first_result_and_credits_once(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    request = add_request(player, "10.00", key=f"claim-{player}")
    first = wallet_stub.AddTransaction(request, metadata=metadata, timeout=5)
    wallet_stub.AddTransaction(add_request(player, "1.00"), metadata=metadata, timeout=5)
    again, call = wallet_stub.AddTransaction.with_call(
        add_request(player, "10", key=f"claim-{player}"), metadata=metadata, timeout=5
    )
    assert again.replayed
    assert again.transaction_id == first.transaction_id
    assert again.balance == first.balance  # the first result, not today's balance
    assert ("idempotent-replayed", "true") in tuple(call.trailing_metadata() or ())
    engine = redeem_container.core.database()
    assert transaction_count(engine, player) == 2
    assert ledger(engine, player)["bonus"] == Decimal("11.00")


def test_another_callers_key_is_never_answered_with_its_transaction(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    player = new_player()
    key = f"claim-{player}"
    mine = call_metadata(signer.client_token())
    theirs = call_metadata(signer.client_token("another-service"))
    wallet_stub.AddTransaction(add_request(player, "10.00", key=key), metadata=mine, timeout=5)
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(
            add_request(player, "10.00", key=key), metadata=theirs, timeout=5
        )
    assert raised.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert transaction_count(redeem_container.core.database(), player) == 1


def test_a_caller_finds_what_it_recorded_under_a_key_and_nothing_else(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    key = f"claim-{player}"
    first = wallet_stub.AddTransaction(
        add_request(player, "12.5", key=key, additional_data='{"promotionId":"p1"}'),
        metadata=metadata,
        timeout=5,
    )
    found = wallet_stub.GetTransaction(
        wallet_pb2.GetTransactionRequest(idempotency_key=key), metadata=metadata, timeout=5
    )
    assert (found.transaction_id, found.player_id) == (first.transaction_id, player)
    assert (found.currency, found.type) == (
        wallet_pb2.CURRENCY_BONUS,
        wallet_pb2.TRANSACTION_TYPE_CREDIT,
    )
    assert (found.WhichOneof("amount"), found.bonus_amount) == ("bonus_amount", "12.50")
    assert json.loads(found.additional_data) == {"promotionId": "p1"}
    assert found.created_at == first.created_at
    assert found.balance == first.balance
    other_caller = call_metadata(signer.client_token("another-service"))
    for key_asked, caller in ((f"never-{player}", metadata), (key, other_caller)):
        with pytest.raises(grpc.RpcError) as raised:
            wallet_stub.GetTransaction(
                wallet_pb2.GetTransactionRequest(idempotency_key=key_asked),
                metadata=caller,
                timeout=5,
            )
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND
        assert error_code(raised.value) == "REDEEM_TRANSACTION_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.GetTransaction(
            wallet_pb2.GetTransactionRequest(idempotency_key="no spaces"),
            metadata=metadata,
            timeout=5,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    points_key = f"points-{player}"
    wallet_stub.AddTransaction(
        add_request(player, 40, key=points_key, currency=wallet_pb2.CURRENCY_POINTS),
        metadata=metadata,
        timeout=5,
    )
    points = wallet_stub.GetTransaction(
        wallet_pb2.GetTransactionRequest(idempotency_key=points_key), metadata=metadata, timeout=5
    )
    assert (points.WhichOneof("amount"), points.points_amount) == ("points_amount", 40)


def test_additional_data_in_any_script_is_limited_by_its_utf8_bytes(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    # 3,900 bytes of UTF-8, sent as most JSON writers send it: 7,800 bytes of \uXXXX escapes.
    note = "漢字😀" * 390
    key = f"utf8-{player}"
    wallet_stub.AddTransaction(
        add_request(player, key=key, additional_data=json.dumps({"note": note})),
        metadata=metadata,
        timeout=5,
    )
    found = wallet_stub.GetTransaction(
        wallet_pb2.GetTransactionRequest(idempotency_key=key), metadata=metadata, timeout=5
    )
    assert json.loads(found.additional_data) == {"note": note}
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(
            add_request(player, additional_data=json.dumps({"note": note + "漢" * 70})),
            metadata=metadata,
            timeout=5,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == (
        "The additional data may not exceed 4096 bytes of UTF-8 JSON."
    )


EXACT = (
    '{"wager": 12345678901234567.89, "rate": 10.10, "tiny": 1e-400, '
    '"whole": 123456789012345678901234567890, "nested": [{"odds": 2.50}]}'
)


def test_additional_data_numbers_are_kept_exactly_not_through_a_double(
    wallet_stub: wallet_pb2_grpc.WalletStub,
    redeem_container: Container,
    signer: TestSigner,
    client: FlaskClient,
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    key = f"exact-{player}"
    wallet_stub.AddTransaction(
        add_request(player, key=key, additional_data=EXACT), metadata=metadata, timeout=5
    )
    expected = json.loads(EXACT, parse_float=Decimal)
    # PostgreSQL holds the numbers (numeric), not doubles.
    with redeem_container.core.database().connect() as connection:
        stored = connection.execute(
            text(
                "SELECT additional_data = CAST(:exact AS jsonb) FROM transactions"
                " WHERE idempotency_key = :key"
            ),
            {"exact": EXACT, "key": key},
        ).scalar_one()
    assert stored is True
    found = wallet_stub.GetTransaction(
        wallet_pb2.GetTransactionRequest(idempotency_key=key), metadata=metadata, timeout=5
    )
    assert json.loads(found.additional_data, parse_float=Decimal) == expected
    assert '"rate":10.10' in found.additional_data
    assert '"wager":12345678901234567.89' in found.additional_data
    # Over REST the same numbers, as JSON numbers (not strings, not doubles).
    response = client.get(
        f"/api/v1/wallet/players/{player}", headers=bearer(signer.user_token("s-1", "staff"))
    )
    assert response.status_code == 200, response.json
    body = json.loads(response.get_data(as_text=True), parse_float=Decimal)
    assert body["transactions"]["items"][0]["additionalData"] == expected
    assert '"rate":10.10' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "additional_data",
    [
        '{"far": 1e5000}',  # 5,001 digits written out
        '{"far": 1e-5000}',
        '{"far": 1e999999999999999999}',
        '{"far": 1e-4000, "and": 1e-4000}',  # each fits, both do not
        '{"nan": NaN}',
    ],
)
def test_numbers_that_cannot_be_kept_exactly_are_invalid_argument(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner, additional_data: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(
            add_request(new_player(), additional_data=additional_data),
            metadata=call_metadata(signer.client_token()),
            timeout=5,
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(raised.value) == "REDEEM_INVALID_TRANSACTION"


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": "10.01"},
        {"player": "other"},
        {"kind": wallet_pb2.TRANSACTION_TYPE_DEBIT},
        {"amount": 10, "currency": wallet_pb2.CURRENCY_POINTS},
    ],
)
def test_the_same_key_with_another_content_is_already_exists(
    wallet_stub: wallet_pb2_grpc.WalletStub,
    redeem_container: Container,
    signer: TestSigner,
    changed: dict[str, Any],
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    key = f"claim-{player}"
    wallet_stub.AddTransaction(add_request(player, "10.00", key=key), metadata=metadata, timeout=5)
    target = new_player() if changed.get("player") else player
    options = {k: v for k, v in changed.items() if k in {"currency", "kind"}}
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(
            add_request(target, changed.get("amount", "10.00"), key=key, **options),
            metadata=metadata,
            timeout=5,
        )
    assert raised.value.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_code(raised.value) == "REDEEM_IDEMPOTENCY_KEY_REUSED"
    engine = redeem_container.core.database()
    assert transaction_count(engine, player) == 1
    assert transaction_count(engine, target) == (1 if target == player else 0)


def test_a_debit_below_zero_is_failed_precondition_with_no_transaction_row(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    wallet_stub.AddTransaction(
        add_request(player, 50, currency=wallet_pb2.CURRENCY_POINTS), metadata=metadata, timeout=5
    )
    for request in (
        add_request(
            player, 51, currency=wallet_pb2.CURRENCY_POINTS, kind=wallet_pb2.TRANSACTION_TYPE_DEBIT
        ),
        add_request(new_player(), "0.01", kind=wallet_pb2.TRANSACTION_TYPE_DEBIT),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            wallet_stub.AddTransaction(request, metadata=metadata, timeout=5)
        assert raised.value.code() is grpc.StatusCode.FAILED_PRECONDITION
        assert error_code(raised.value) == "REDEEM_INSUFFICIENT_BALANCE"
    engine = redeem_container.core.database()
    assert transaction_count(engine, player) == 1
    assert ledger(engine, player)["points"] == 50
    # The whole balance can be spent, to the last point.
    spent = wallet_stub.AddTransaction(
        add_request(
            player, 50, currency=wallet_pb2.CURRENCY_POINTS, kind=wallet_pb2.TRANSACTION_TYPE_DEBIT
        ),
        metadata=metadata,
        timeout=5,
    )
    assert spent.balance.points_balance == 0


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"currency": wallet_pb2.CURRENCY_UNSPECIFIED}, "REDEEM_INVALID_TRANSACTION"),
        ({"kind": wallet_pb2.TRANSACTION_TYPE_UNSPECIFIED}, "REDEEM_INVALID_TRANSACTION"),
        ({"amount": 10}, "REDEEM_INVALID_AMOUNT"),  # points amount for BONUS
        ({"amount": "10.001"}, "REDEEM_INVALID_AMOUNT"),
        ({"amount": "-1"}, "REDEEM_INVALID_AMOUNT"),
        ({"amount": "0"}, "REDEEM_INVALID_AMOUNT"),
        ({"key": "bad key!"}, "REDEEM_INVALID_IDEMPOTENCY_KEY"),
        ({"player": ""}, "REDEEM_INVALID_PLAYER_ID"),
        ({"additional_data": "[1, 2]"}, "REDEEM_INVALID_TRANSACTION"),
        ({"additional_data": "{oops"}, "REDEEM_INVALID_TRANSACTION"),
        ({"additional_data": "[" * 2000 + "]" * 2000}, "REDEEM_INVALID_TRANSACTION"),
        ({"description": "d" * 501}, "REDEEM_INVALID_TRANSACTION"),
        ({"description": "a\x00b"}, "REDEEM_INVALID_TRANSACTION"),
        ({"additional_data": '{"note": "a\\u0000b"}'}, "REDEEM_INVALID_TRANSACTION"),
        ({"additional_data": '{"note": "\\ud800"}'}, "REDEEM_INVALID_TRANSACTION"),
        (
            {"additional_data": '{"promotionId": "p-1", "promotionId": "p-2"}'},
            "REDEEM_INVALID_TRANSACTION",
        ),
        # The wallet's own keys: taken by a caller, an adjustment would read as a replay.
        ({"key": "adjustment:k-1"}, "REDEEM_INVALID_TRANSACTION"),
        ({"key": "reward:k-1"}, "REDEEM_INVALID_TRANSACTION"),
        ({"key": "redeem:k-1"}, "REDEEM_INVALID_TRANSACTION"),
    ],
)
def test_invalid_requests_are_invalid_argument(
    wallet_stub: wallet_pb2_grpc.WalletStub,
    signer: TestSigner,
    overrides: dict[str, Any],
    code: str,
) -> None:
    player = overrides.pop("player", new_player())
    amount = overrides.pop("amount", "10.00")
    request = add_request(player, amount, **overrides)
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(
            request, metadata=call_metadata(signer.client_token()), timeout=5
        )
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(raised.value) == code


def test_the_caller_correlation_id_is_kept(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    metadata = (*call_metadata(signer.client_token()), ("x-correlation-id", "claim-abc-123"))
    _, call = wallet_stub.GetBalance.with_call(
        wallet_pb2.GetBalanceRequest(player_id=new_player()), metadata=metadata, timeout=5
    )
    # Echoed with the status (the trailers), so the echo costs no batch of its own.
    assert ("x-correlation-id", "claim-abc-123") in tuple(call.trailing_metadata() or ())


def test_a_refused_call_carries_both_its_error_code_and_the_correlation_id(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    metadata = (*call_metadata(signer.client_token()), ("x-correlation-id", "claim-def-456"))
    with pytest.raises(grpc.RpcError) as raised:
        wallet_stub.AddTransaction(add_request(new_player(), "-5.00"), metadata=metadata, timeout=5)
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    trailers: Any = raised.value.trailing_metadata()
    assert ("x-correlation-id", "claim-def-456") in tuple(trailers or ())
    assert error_code(raised.value) is not None


def test_an_unsafe_correlation_id_is_replaced(
    wallet_stub: wallet_pb2_grpc.WalletStub, signer: TestSigner
) -> None:
    metadata = (*call_metadata(signer.client_token()), ("x-correlation-id", "a b<script>"))
    _, call = wallet_stub.GetBalance.with_call(
        wallet_pb2.GetBalanceRequest(player_id=new_player()), metadata=metadata, timeout=5
    )
    echoed = dict(call.trailing_metadata() or ())["x-correlation-id"]
    assert echoed != "a b<script>"
    assert re.fullmatch(r"[0-9a-f-]{36}", echoed)


def hold_wallet_lock(container: Container, player_id: str) -> Any:
    """A transaction of our own that holds the wallet row, so wallet calls queue behind it."""
    connection = container.core.database().connect()
    connection.begin()
    connection.execute(
        text("SELECT 1 FROM wallets WHERE player_id = :p FOR UPDATE"), {"p": player_id}
    )
    return connection


def test_the_database_work_is_bounded_by_the_callers_deadline(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    wallet_stub.AddTransaction(add_request(player, "5.00"), metadata=metadata, timeout=5)
    engine = redeem_container.core.database()
    lock = hold_wallet_lock(redeem_container, player)
    try:
        with pytest.raises(grpc.RpcError) as raised:
            wallet_stub.AddTransaction(
                add_request(player, "1.00", key=f"late-{player}"), metadata=metadata, timeout=0.5
            )
        assert raised.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        # The server gives up too: its statement is cancelled while we still hold the lock
        # (without the deadline it would wait for the 15 s statement timeout).
        wait_until(lambda: waiting_on_locks(engine) == 0, timeout=5)
    finally:
        lock.rollback()
        lock.close()
    assert transaction_count(engine, player) == 1
    assert ledger(engine, player)["bonus"] == Decimal("5.00")


def test_a_graceful_stop_lets_the_call_in_flight_finish_and_refuses_new_ones(
    redeem_container: Container, signer: TestSigner
) -> None:
    server = create_server(redeem_container)
    server.start()
    metadata = call_metadata(signer.client_token())
    player = new_player()
    engine = redeem_container.core.database()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = wallet_stub_for(channel)
        stub.AddTransaction(add_request(player, "5.00"), metadata=metadata, timeout=5)
        lock = hold_wallet_lock(redeem_container, player)
        with ThreadPoolExecutor(2) as pool:
            try:
                in_flight = pool.submit(
                    stub.AddTransaction, add_request(player, "1.00"), metadata=metadata, timeout=20
                )
                wait_until(lambda: waiting_on_locks(engine) == 1)
                stopping = pool.submit(server.stop, 10)

                def refused() -> bool:
                    try:
                        stub.GetBalance(
                            wallet_pb2.GetBalanceRequest(player_id=player),
                            metadata=metadata,
                            timeout=2,
                        )
                    except grpc.RpcError as error:
                        return error.code() is grpc.StatusCode.UNAVAILABLE
                    return False

                # New calls are refused while the call in flight is still waiting.
                wait_until(refused)
                assert not in_flight.done()
            finally:
                lock.rollback()
                lock.close()
            assert in_flight.result(timeout=20).balance.bonus_balance == "6.00"
            stopping.result(timeout=20)


def test_concurrent_credits_and_debits_keep_the_ledger_equal_to_the_balance(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    metadata = call_metadata(signer.client_token())
    player = new_player()
    wallet_stub.AddTransaction(add_request(player, "20.00"), metadata=metadata, timeout=5)
    outcomes: dict[str, int] = {}
    guard = threading.Lock()

    def call(index: int) -> None:
        debit = index % 2 == 0
        request = add_request(
            player,
            "3.00" if debit else "1.00",
            kind=wallet_pb2.TRANSACTION_TYPE_DEBIT if debit else wallet_pb2.TRANSACTION_TYPE_CREDIT,
            key=f"{player}-{index % 40}",  # every key is sent twice, concurrently
        )
        try:
            wallet_stub.AddTransaction(request, metadata=metadata, timeout=10)
            outcome = "OK"
        except grpc.RpcError as error:
            outcome = error.code().name
        with guard:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(80)))
    totals = ledger(redeem_container.core.database(), player)
    assert totals["bonus"] == totals["bonus_total"]
    assert totals["bonus"] >= 0
    assert set(outcomes) == {"OK", "FAILED_PRECONDITION"}  # debits outran credits
    assert totals["transactions"] <= 41  # at most one row per key, plus the first credit


def test_a_database_outage_is_unavailable_so_callers_retry_with_the_same_key(
    wallet_stub: wallet_pb2_grpc.WalletStub, redeem_container: Container, signer: TestSigner
) -> None:
    unreachable = create_engine(
        "postgresql+psycopg://loyalty@127.0.0.1:9/redeem", connect_args={"connect_timeout": 1}
    )
    with (
        redeem_container.core.database.override(providers.Object(unreachable)),
        pytest.raises(grpc.RpcError) as raised,
    ):
        wallet_stub.AddTransaction(
            add_request(new_player()), metadata=call_metadata(signer.client_token()), timeout=5
        )
    unreachable.dispose()
    assert raised.value.code() is grpc.StatusCode.UNAVAILABLE
    assert error_code(raised.value) == "SERVICE_UNAVAILABLE"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff", b"\x0a\x10abc", b"\x0a\x03\xff\xfe\xfd"],
    ids=["garbage", "truncated", "invalid-utf8-string"],
)
@pytest.mark.parametrize("method", ["AddTransaction", "GetBalance"])
def test_bytes_that_are_not_the_request_message_are_invalid_argument(
    channel: grpc.Channel,
    wallet_stub: wallet_pb2_grpc.WalletStub,
    signer: TestSigner,
    method: str,
    body: bytes,
) -> None:
    raw = channel.unary_unary(
        f"/loyalty.wallet.v1.Wallet/{method}",
        request_serializer=lambda data: data,
        response_deserializer=lambda data: data,
    )
    metadata = (*call_metadata(signer.client_token()), ("x-correlation-id", "raw-bytes-1"))
    with pytest.raises(grpc.RpcError) as raised:
        raw(body, metadata=metadata, timeout=5)
    # Not gRPC's own INTERNAL "Exception deserializing request!": the caller's fault, coded.
    assert raised.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error_code(raised.value) == "BAD_REQUEST"
    trailers: Any = raised.value.trailing_metadata()
    assert ("x-correlation-id", "raw-bytes-1") in tuple(trailers or ())
    # The server goes on serving well-formed calls.
    reply = wallet_stub.GetBalance(
        wallet_pb2.GetBalanceRequest(player_id=new_player()),
        metadata=call_metadata(signer.client_token()),
        timeout=5,
    )
    assert reply.balance.points_balance == 0
