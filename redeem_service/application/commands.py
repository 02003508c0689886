"""Commands the edges (gRPC, REST) hand to the wallet use cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from redeem_service.domain.model import Currency, TransactionType
from redeem_service.domain.redemption import Merchant


@dataclass(frozen=True, slots=True)
class RecordTransaction:
    """Credit or debit a balance on behalf of an internal service (idempotent by key)."""

    player_id: str
    currency: Currency
    kind: TransactionType
    amount: str | int | Decimal
    idempotency_key: str
    description: str = ""
    additional_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AdjustBalance:
    """An administrator's manual credit or debit, with the reason for it."""

    player_id: str
    currency: Currency
    kind: TransactionType
    amount: str | int | Decimal
    reason: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class RequestRedemption:
    """Spend points on a reward (REST): a player for themself, a partner naming the player."""

    points: int
    reward_description: str
    idempotency_key: str
    player_id: str | None = None
    merchant: Merchant | None = None


@dataclass(frozen=True, slots=True)
class DecideRedemption:
    """A ``REDEEM_REQUESTED`` event to decide: from the REST API, or produced by a partner."""

    redeem_request_id: str
    player_id: str
    points: int
    reward_description: str
    event_id: str
    requested_by: str | None = None
    merchant: Merchant | None = None
    correlation_id: str | None = None
