"""The wallet's rules: amounts, balances that never go below zero, transaction requests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from redeem_service.domain.exceptions import (
    BalanceLimitExceeded,
    InsufficientBalance,
    InvalidAmount,
    InvalidIdempotencyKey,
    InvalidPlayerId,
    InvalidTransactionDetails,
)
from redeem_service.domain.model import (
    MAX_BALANCE,
    Amount,
    Currency,
    TransactionRequest,
    TransactionSource,
    TransactionType,
    Wallet,
    WalletTransaction,
    check_adjustment_reason,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("currency", "raw", "expected"),
    [
        (Currency.BONUS, "10", "10.00"),
        (Currency.BONUS, "10.5", "10.50"),
        (Currency.BONUS, "0.01", "0.01"),
        (Currency.BONUS, Decimal("7.25"), "7.25"),
        (Currency.POINTS, "150", "150"),
        (Currency.POINTS, 150, "150"),
        (Currency.POINTS, Decimal("150.00"), "150"),
    ],
)
def test_amounts_are_read_exactly(
    currency: Currency, raw: str | int | Decimal, expected: str
) -> None:
    assert str(Amount.parse(currency, raw)) == expected


@pytest.mark.parametrize(
    ("currency", "raw"),
    [
        (Currency.BONUS, "0"),
        (Currency.BONUS, "0.00"),
        (Currency.BONUS, "-5"),
        (Currency.BONUS, "1.005"),
        (Currency.BONUS, "1e3"),
        (Currency.BONUS, " 5"),
        (Currency.BONUS, "1.00\n"),
        (Currency.POINTS, "15\n"),
        (Currency.BONUS, "NaN"),
        (Currency.BONUS, "10000000.01"),
        (Currency.BONUS, 10.5),
        (Currency.BONUS, True),
        (Currency.POINTS, "1.5"),
        (Currency.POINTS, "10.00"),
        (Currency.POINTS, 0),
        (Currency.POINTS, -3),
        (Currency.POINTS, 1_000_000_001),
        (Currency.POINTS, Decimal("2.5")),
    ],
)
def test_bad_amounts_are_refused(currency: Currency, raw: object) -> None:
    with pytest.raises(InvalidAmount):
        Amount.parse(currency, raw)  # type: ignore[arg-type]


def test_a_wallet_credits_and_debits_each_currency_separately() -> None:
    wallet = Wallet("p1")
    wallet = wallet.apply(TransactionType.CREDIT, Amount.parse(Currency.BONUS, "25.50"))
    wallet = wallet.apply(TransactionType.CREDIT, Amount.parse(Currency.POINTS, 300))
    wallet = wallet.apply(TransactionType.DEBIT, Amount.parse(Currency.BONUS, "0.50"))
    assert wallet == Wallet("p1", Decimal("25.00"), 300)
    assert wallet.apply(TransactionType.DEBIT, Amount.parse(Currency.POINTS, 300)).points == 0


def test_a_debit_may_not_take_a_balance_below_zero() -> None:
    wallet = Wallet("p1", Decimal("5.00"), 10)
    with pytest.raises(InsufficientBalance, match=r"BONUS balance is 5\.00"):
        wallet.apply(TransactionType.DEBIT, Amount.parse(Currency.BONUS, "5.01"))
    with pytest.raises(InsufficientBalance):
        wallet.apply(TransactionType.DEBIT, Amount.parse(Currency.POINTS, 11))


def test_a_credit_may_not_take_a_balance_past_its_limit() -> None:
    wallet = Wallet("p1", MAX_BALANCE[Currency.BONUS] - Decimal("1.00"))
    with pytest.raises(BalanceLimitExceeded):
        wallet.apply(TransactionType.CREDIT, Amount.parse(Currency.BONUS, "1.01"))


def request(**overrides: object) -> TransactionRequest:
    values: dict[str, object] = {
        "player_id": "player-1",
        "kind": TransactionType.CREDIT,
        "amount": Amount.parse(Currency.BONUS, "10"),
        "idempotency_key": "key-1",
        "actor": "rewards-service",
        "source": TransactionSource.SERVICE,
    }
    values.update(overrides)
    return TransactionRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"player_id": ""}, InvalidPlayerId),
        ({"player_id": "x" * 65}, InvalidPlayerId),
        ({"player_id": "bad id"}, InvalidPlayerId),
        ({"idempotency_key": ""}, InvalidIdempotencyKey),
        ({"idempotency_key": "k" * 129}, InvalidIdempotencyKey),
        ({"idempotency_key": "a/b"}, InvalidIdempotencyKey),
        ({"description": "d" * 501}, InvalidTransactionDetails),
        ({"actor": ""}, InvalidTransactionDetails),
        ({"additional_data": {"blob": "x" * 5000}}, InvalidTransactionDetails),
        ({"additional_data": {"bad": float("nan")}}, InvalidTransactionDetails),
        # PostgreSQL text and jsonb cannot hold NUL: refused here, not as a database error.
        ({"description": "a\x00b"}, InvalidTransactionDetails),
        ({"additional_data": {"note": "a\x00b"}}, InvalidTransactionDetails),
        ({"additional_data": {"k\x00": 1}}, InvalidTransactionDetails),
        ({"additional_data": {"deep": [{"x": ["\x00"]}]}}, InvalidTransactionDetails),
    ],
)
def test_transaction_requests_are_validated(
    overrides: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        request(**overrides)


def nested(depth: int, leaf: object) -> dict[str, object]:
    value: object = leaf
    for _ in range(depth):
        value = [value]
    return {"a": value}


def test_additional_data_nested_deep_is_checked_without_running_out_of_stack() -> None:
    # 400 levels fit in 4 KiB; the NUL check recursed three frames a level and failed with
    # RecursionError (an INTERNAL over gRPC) instead of checking.
    assert request(additional_data=nested(600, "ok")).additional_data == nested(600, "ok")
    with pytest.raises(InvalidTransactionDetails, match="NUL"):
        request(additional_data=nested(600, "a\x00b"))
    with pytest.raises(InvalidTransactionDetails, match="nested too deeply"):
        request(additional_data=nested(100_000, "ok"))


def test_the_additional_data_limit_counts_utf8_bytes_not_ascii_escapes() -> None:
    # 1,300 CJK characters are 3,900 bytes of UTF-8 (7,800 as \uXXXX escapes), 1,000 emoji
    # 4,000 (12,000).
    for text in ("漢" * 1300, "😀" * 1000):
        assert request(additional_data={"note": text}).additional_data == {"note": text}
    with pytest.raises(InvalidTransactionDetails, match="4096 bytes of UTF-8") as raised:
        request(additional_data={"note": "漢" * 1400})
    # Said so that it fits the field's name in gRPC (additional_data) and in JSON alike.
    assert "additionalData" not in str(raised.value)
    with pytest.raises(InvalidTransactionDetails, match="surrogate"):
        request(additional_data={"note": "a\ud800b"})


def test_a_retry_is_the_same_request_only_with_the_same_player_amount_currency_and_type() -> None:
    first = request()
    recorded = WalletTransaction.record(first, Wallet("player-1", Decimal("10.00")), NOW)
    assert recorded.is_same_request(request(description="another text"))
    assert recorded.is_same_request(request(amount=Amount.parse(Currency.BONUS, "10.00")))
    assert not recorded.is_same_request(request(amount=Amount.parse(Currency.BONUS, "11")))
    assert not recorded.is_same_request(request(player_id="player-2"))
    assert not recorded.is_same_request(request(kind=TransactionType.DEBIT))
    assert not recorded.is_same_request(request(amount=Amount.parse(Currency.POINTS, 10)))


def test_a_transaction_remembers_the_balances_right_after_it() -> None:
    recorded = WalletTransaction.record(request(), Wallet("player-1", Decimal("10.00"), 7), NOW)
    assert recorded.balance_after == Decimal("10.00")
    assert recorded.wallet_after == Wallet("player-1", Decimal("10.00"), 7)
    assert recorded.signed_value == Decimal("10.00")


def test_an_adjustment_needs_a_reason() -> None:
    assert check_adjustment_reason("  goodwill gesture ") == "goodwill gesture"
    with pytest.raises(InvalidTransactionDetails):
        check_adjustment_reason("  ")
