"""The wallet: a player's bonus (money) and points balances and the append-only transaction log.

Every change is one :class:`WalletTransaction` carrying the balances right after it, so the log
alone explains every balance: the sum of a player's transactions equals the balance, always.
Points come in as :class:`PointsAward` (earned, or taken back by a reversal) and go out through
redemptions (``redeem_service.domain.redemption``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from redeem_service.domain.exceptions import (
    BalanceLimitExceeded,
    InsufficientBalance,
    InvalidAmount,
    InvalidIdempotencyKey,
    InvalidPlayerId,
    InvalidTransactionDetails,
)
from shared import json_text

CENTS = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")
PLAYER_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
MAX_DESCRIPTION_LENGTH = 500
MAX_ADDITIONAL_DATA_BYTES = 4096
_BONUS_TEXT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")
_POINTS_TEXT = re.compile(r"^[0-9]{1,16}$")


class Currency(StrEnum):
    BONUS = "BONUS"  # bonus money, two decimal places
    POINTS = "POINTS"  # loyalty points, whole numbers


class TransactionType(StrEnum):
    CREDIT = "CREDIT"
    DEBIT = "DEBIT"


class TransactionSource(StrEnum):
    """Where a transaction came from, for the audit log."""

    SERVICE = "SERVICE"  # an internal service through the wallet API (gRPC)
    ADJUSTMENT = "ADJUSTMENT"  # an administrator's manual adjustment
    EARNING = "EARNING"  # points confirmed for a partner event (reward-confirmed)
    REDEMPTION = "REDEMPTION"  # points spent on a reward


# Bounds: one transaction, and what a balance can hold (NUMERIC(14,2) / BIGINT columns).
MAX_TRANSACTION_AMOUNT = {
    Currency.BONUS: Decimal("10000000.00"),
    Currency.POINTS: Decimal(1_000_000_000),
}
MAX_BALANCE = {
    Currency.BONUS: Decimal("999999999999.99"),
    Currency.POINTS: Decimal(1_000_000_000_000_000),
}


@dataclass(frozen=True, slots=True)
class Amount:
    """A positive quantity of one currency: money with two decimal places, or whole points."""

    currency: Currency
    value: Decimal

    @classmethod
    def parse(cls, currency: Currency, raw: str | int | Decimal) -> Amount:
        """Read an amount as callers send it (a decimal string, or an integer for points).
        Floats are refused: money never goes through binary floating point."""
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise InvalidAmount("The amount must be a decimal string or an integer.")
        if isinstance(raw, str):
            pattern = _BONUS_TEXT if currency is Currency.BONUS else _POINTS_TEXT
            if not pattern.fullmatch(raw):
                raise InvalidAmount(
                    'A BONUS amount is a decimal with at most two decimal places (e.g. "10.50").'
                    if currency is Currency.BONUS
                    else 'A POINTS amount is a whole number (e.g. "150").'
                )
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:  # pragma: no cover - the pattern above prevents it
            raise InvalidAmount() from exc
        if not value.is_finite():
            raise InvalidAmount()
        if currency is Currency.POINTS:
            if value != value.to_integral_value():
                raise InvalidAmount("A POINTS amount is a whole number.")
            value = value.quantize(Decimal(1))
        else:
            if value != value.quantize(CENTS):
                raise InvalidAmount("A BONUS amount has at most two decimal places.")
            value = value.quantize(CENTS)
        if value <= 0:
            raise InvalidAmount("The amount must be greater than zero.")
        limit = MAX_TRANSACTION_AMOUNT[currency]
        if value > limit:
            raise InvalidAmount(f"The amount may not exceed {format_amount(currency, limit)}.")
        return cls(currency, value)

    @property
    def points(self) -> int:
        return int(self.value)

    def __str__(self) -> str:
        return format_amount(self.currency, self.value)


def format_amount(currency: Currency, value: Decimal | int) -> str:
    """``"10.50"`` for money, ``"150"`` for points."""
    if currency is Currency.BONUS:
        return f"{Decimal(value).quantize(CENTS)}"
    return str(int(value))


def check_player_id(player_id: str) -> str:
    if not PLAYER_ID_PATTERN.fullmatch(player_id):
        raise InvalidPlayerId("The player id must be 1 to 64 characters of [A-Za-z0-9._:-].")
    return player_id


def check_adjustment_reason(reason: str) -> str:
    """An adjustment is only recorded with the reason for it (shown in the audit log)."""
    reason = reason.strip()
    if not 3 <= len(reason) <= MAX_DESCRIPTION_LENGTH:
        raise InvalidTransactionDetails(
            f"A reason of 3 to {MAX_DESCRIPTION_LENGTH} characters is required."
        )
    return reason


@dataclass(frozen=True, slots=True)
class Wallet:
    """A player's balances. A player without any transaction has an empty wallet."""

    player_id: str
    bonus: Decimal = ZERO_MONEY
    points: int = 0

    def balance_of(self, currency: Currency) -> Decimal:
        return self.bonus if currency is Currency.BONUS else Decimal(self.points)

    def apply(self, kind: TransactionType, amount: Amount) -> Wallet:
        """The wallet after crediting or debiting ``amount``: never below zero, never above the
        limit (the persistence adapter enforces the same rule atomically)."""
        current = self.balance_of(amount.currency)
        after = current + amount.value if kind is TransactionType.CREDIT else current - amount.value
        if after < 0:
            raise InsufficientBalance(
                f"The {amount.currency.value} balance is "
                f"{format_amount(amount.currency, current)}; "
                f"a debit of {amount} is not possible."
            )
        if after > MAX_BALANCE[amount.currency]:
            raise BalanceLimitExceeded()
        if amount.currency is Currency.BONUS:
            return Wallet(self.player_id, after.quantize(CENTS), self.points)
        return Wallet(self.player_id, self.bonus, int(after))

    def award(self, points: int) -> Wallet:
        """The wallet after points earned or, negative, taken back by a reversal.

        A reversal takes its points back even when the player has spent them: the balance may
        go below zero, the log stays exact, and the player earns back before redeeming again
        (redemptions never take a balance below zero; see :meth:`apply`)."""
        after = self.points + points
        if after > MAX_BALANCE[Currency.POINTS]:
            raise BalanceLimitExceeded()
        return Wallet(self.player_id, self.bonus, after)


def _check_additional_data(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        # As it is kept: characters as they are, not ASCII escapes (an escape made a CJK
        # character count 6 bytes and an emoji 12), and numbers exactly, written out in full
        # (1e-400 takes 402 bytes in PostgreSQL's numeric and when read back).
        encoded = json_text.dumps(dict(data))
    except (TypeError, ValueError) as exc:
        raise InvalidTransactionDetails("The additional data must be a JSON object.") from exc
    except RecursionError as exc:
        raise InvalidTransactionDetails("The additional data is nested too deeply.") from exc
    try:
        size = len(encoded.encode())
    except UnicodeEncodeError as exc:
        raise InvalidTransactionDetails(
            "The additional data may not contain half of a UTF-16 surrogate pair."
        ) from exc
    if size > MAX_ADDITIONAL_DATA_BYTES:
        raise InvalidTransactionDetails(
            f"The additional data may not exceed {MAX_ADDITIONAL_DATA_BYTES} bytes of UTF-8 JSON."
        )
    if _contains_nul(data):
        # PostgreSQL text and jsonb cannot hold NUL.
        raise InvalidTransactionDetails("The additional data may not contain NUL characters.")
    return dict(data)


def _contains_nul(value: Any) -> bool:
    """Whether any text in ``value`` holds NUL; without recursion, so a document nested deeper
    than the interpreter's stack (a few hundred levels fit in 4 KiB) is checked all the same."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


@dataclass(frozen=True, slots=True)
class TransactionRequest:
    """A change asked of the wallet, validated; recorded at most once per idempotency key."""

    player_id: str
    kind: TransactionType
    amount: Amount
    idempotency_key: str
    actor: str
    source: TransactionSource
    description: str = ""
    additional_data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_player_id(self.player_id)
        if not IDEMPOTENCY_KEY_PATTERN.fullmatch(self.idempotency_key):
            raise InvalidIdempotencyKey(
                "The idempotency key must be 1 to 128 characters of [A-Za-z0-9._:-]."
            )
        if len(self.description) > MAX_DESCRIPTION_LENGTH:
            raise InvalidTransactionDetails(
                f"The description may not exceed {MAX_DESCRIPTION_LENGTH} characters."
            )
        if "\x00" in self.description:
            raise InvalidTransactionDetails("The description may not contain NUL characters.")
        if not self.actor or len(self.actor) > 64:
            raise InvalidTransactionDetails("The actor must be 1 to 64 characters.")
        _check_additional_data(self.additional_data)


@dataclass(frozen=True, slots=True)
class WalletTransaction:
    """One line of the audit log, with the balances right after it. Never updated or deleted."""

    id: str
    player_id: str
    kind: TransactionType
    amount: Amount
    description: str
    additional_data: Mapping[str, Any]
    idempotency_key: str
    actor: str
    source: TransactionSource
    created_at: datetime
    bonus_after: Decimal
    points_after: int

    @classmethod
    def record(
        cls,
        request: TransactionRequest,
        after: Wallet,
        now: datetime,
        transaction_id: str | None = None,
    ) -> WalletTransaction:
        return cls(
            id=transaction_id or str(uuid.uuid4()),
            player_id=request.player_id,
            kind=request.kind,
            amount=request.amount,
            description=request.description,
            additional_data=dict(request.additional_data),
            idempotency_key=request.idempotency_key,
            actor=request.actor,
            source=request.source,
            created_at=now,
            bonus_after=after.bonus,
            points_after=after.points,
        )

    @property
    def currency(self) -> Currency:
        return self.amount.currency

    @property
    def wallet_after(self) -> Wallet:
        return Wallet(self.player_id, self.bonus_after, self.points_after)

    @property
    def balance_after(self) -> Decimal:
        return self.wallet_after.balance_of(self.currency)

    @property
    def signed_value(self) -> Decimal:
        return self.amount.value if self.kind is TransactionType.CREDIT else -self.amount.value

    def is_same_request(self, request: TransactionRequest) -> bool:
        """Whether ``request`` asks for this very change again (a retry under the same key):
        by the same caller too, so no caller is ever answered with another's transaction. An
        adjustment's reason is part of it (a corrected reason under the old key would otherwise
        be dropped in silence); a service's description is not (it may name something renamed
        since, such as a promotion, and a retry must still find its first result)."""
        return (
            self.player_id == request.player_id
            and self.kind is request.kind
            and self.amount == request.amount
            and self.actor == request.actor
            and (
                self.source is not TransactionSource.ADJUSTMENT
                or self.description == request.description
            )
        )


REWARD_KEY_PREFIX = "reward:"


@dataclass(frozen=True, slots=True)
class PointsAward:
    """Points the rewards service confirmed for one partner event (``REWARD_CONFIRMED``):
    positive when earned, negative when a reversal takes them back. The wallet records each
    source event at most once, under the idempotency key ``reward:<sourceEventId>``."""

    player_id: str
    points: int
    source_event_id: str
    source_event_type: str
    partner_id: str | None = None
    reference: str | None = None
    rule_version: int | None = None
    event_id: str | None = None

    def __post_init__(self) -> None:
        check_player_id(self.player_id)
        if isinstance(self.points, bool) or not isinstance(self.points, int):
            raise InvalidAmount("Awarded points are a whole number.")
        if abs(self.points) > MAX_TRANSACTION_AMOUNT[Currency.POINTS]:
            raise InvalidAmount("The award is larger than one transaction may be.")
        if not IDEMPOTENCY_KEY_PATTERN.fullmatch(self.idempotency_key):
            raise InvalidIdempotencyKey("The source event id is not usable as a key.")

    @property
    def idempotency_key(self) -> str:
        return REWARD_KEY_PREFIX + self.source_event_id

    @property
    def changes_balance(self) -> bool:
        """A zero award (a wager too small to earn) is acknowledged but records nothing."""
        return self.points != 0

    def record(self, before: Wallet, now: datetime) -> WalletTransaction:
        """The log line of this award on ``before`` (the player's wallet right now)."""
        after = before.award(self.points)
        reversal = self.points < 0
        details: dict[str, Any] = {
            "sourceEventId": self.source_event_id,
            "sourceEventType": self.source_event_type,
        }
        optional = {
            "partnerId": self.partner_id,
            "reference": self.reference,
            "ruleVersion": self.rule_version,
            "eventId": self.event_id,
        }
        details.update({k: v for k, v in optional.items() if v is not None})
        request = TransactionRequest(
            player_id=self.player_id,
            kind=TransactionType.DEBIT if reversal else TransactionType.CREDIT,
            amount=Amount(Currency.POINTS, Decimal(abs(self.points))),
            idempotency_key=self.idempotency_key,
            actor=(self.partner_id or "rewards")[:64],
            source=TransactionSource.EARNING,
            description=f"Points {'reversed' if reversal else 'earned'}: {self.source_event_type}",
            additional_data=details,
        )
        return WalletTransaction.record(request, after, now)
