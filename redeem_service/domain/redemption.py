"""Redemptions: a player spends points on a reward, asked through the API or by a partner's event,
decided later — confirmed with a debit of the points balance, or rejected with a reason.

A redemption never takes the points balance below zero (the debit uses :meth:`Wallet.apply`,
and the database repeats the guard in the statement that applies it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from redeem_service.domain.exceptions import (
    InsufficientBalance,
    InvalidIdempotencyKey,
    InvalidRedemption,
    RedemptionAlreadyDecided,
)
from redeem_service.domain.model import (
    IDEMPOTENCY_KEY_PATTERN,
    Amount,
    Currency,
    TransactionRequest,
    TransactionSource,
    TransactionType,
    Wallet,
    WalletTransaction,
    check_player_id,
)
from shared.domain.player_ids import canonical_player_id, is_uuid_text
from shared.domain.principal import Principal

MAX_REDEMPTION_POINTS = 10_000_000
MAX_REWARD_DESCRIPTION_LENGTH = 200
MAX_REQUESTER_LENGTH = 64
REDEMPTION_KEY_PREFIX = "redeem:"
_MERCHANT_LIMITS = {"partner_id": 64, "location": 100, "reference": 100}


class RedemptionStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"


class RejectionReason(StrEnum):
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    PLAYER_INACTIVE = "PLAYER_INACTIVE"
    INVALID_REQUEST = "INVALID_REQUEST"
    #: no registered player and no wallet has this id (a partner's mistyped id)
    UNKNOWN_PLAYER = "UNKNOWN_PLAYER"


class RedemptionChannel(StrEnum):
    """How the request arrived: the REST API, or an event a partner produced directly."""

    API = "API"
    EVENT = "EVENT"


@dataclass(frozen=True, slots=True)
class Merchant:
    """Where the reward is handed over (optional context from the partner)."""

    partner_id: str | None = None
    location: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        for name, limit in _MERCHANT_LIMITS.items():
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > limit):
                raise InvalidRedemption(f"merchant {name} is text of at most {limit} characters.")

    @classmethod
    def from_dict(cls, data: Any) -> Merchant | None:
        """From the JSON form (``{partnerId, location, reference}``); None when empty."""
        if data is None:
            return None
        if not isinstance(data, dict) or set(data) - {"partnerId", "location", "reference"}:
            raise InvalidRedemption("merchant has partnerId, location and reference only.")
        merchant = cls(data.get("partnerId"), data.get("location"), data.get("reference"))
        return merchant if merchant.to_dict() else None

    def to_dict(self) -> dict[str, str]:
        values = {
            "partnerId": self.partner_id,
            "location": self.location,
            "reference": self.reference,
        }
        return {name: value for name, value in values.items() if value is not None}


def request_fingerprint(
    player_id: str, points: int, reward_description: str, merchant: Merchant | None
) -> str:
    """What makes two requests the same request (a retry) — the caller, the key and the time
    do not count."""
    canonical = json.dumps(
        {
            "playerId": player_id,
            "points": points,
            "rewardDescription": reward_description,
            "merchant": merchant.to_dict() if merchant else None,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(slots=True)
class Redemption:
    """One request to spend points, and its outcome once decided (decided once, never again)."""

    id: str
    player_id: str
    points: int
    reward_description: str
    requested_by: str
    channel: RedemptionChannel
    created_at: datetime
    request_hash: str
    #: asked by the player themself, authenticated by their own token (the API sets it): such a
    #: player exists whatever the wallet has heard; an event's ``requestedBy`` proves nothing
    requested_by_player: bool = False
    merchant: Merchant | None = None
    idempotency_key: str | None = None
    status: RedemptionStatus = RedemptionStatus.PENDING
    reason: RejectionReason | None = None
    transaction_id: str | None = None
    points_balance: int | None = None
    decided_at: datetime | None = field(default=None)
    #: the fingerprint with the player id as the request spelled it, when that was not the
    #: canonical spelling: requests stored before ids were canonicalised carry this one
    received_hash: str | None = field(default=None, compare=False)

    @classmethod
    def request(
        cls,
        *,
        redemption_id: str,
        player_id: str,
        points: int,
        reward_description: str,
        requested_by: str,
        channel: RedemptionChannel,
        now: datetime,
        merchant: Merchant | None = None,
        idempotency_key: str | None = None,
        requested_by_player: bool = False,
    ) -> Redemption:
        """A new pending redemption, validated. A player id that is a UUID is kept in lower
        case, as auth issues it (a partner may send it in capitals)."""
        check_player_id(player_id)
        received_id, player_id = player_id, canonical_player_id(player_id)
        if not is_uuid_text(redemption_id):
            raise InvalidRedemption("The redeem request id must be a UUID.")
        if isinstance(points, bool) or not isinstance(points, int):
            raise InvalidRedemption("Points are a whole number.")
        if not 1 <= points <= MAX_REDEMPTION_POINTS:
            raise InvalidRedemption(f"Points must be between 1 and {MAX_REDEMPTION_POINTS}.")
        description = reward_description.strip()
        if not 1 <= len(description) <= MAX_REWARD_DESCRIPTION_LENGTH:
            raise InvalidRedemption(
                f"The reward description is 1 to {MAX_REWARD_DESCRIPTION_LENGTH} characters."
            )
        if not requested_by or len(requested_by) > MAX_REQUESTER_LENGTH:
            raise InvalidRedemption("The requester is 1 to 64 characters.")
        if idempotency_key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(idempotency_key):
            raise InvalidIdempotencyKey(
                "The idempotency key must be 1 to 128 characters of [A-Za-z0-9._:-]."
            )
        if merchant is not None and not merchant.to_dict():
            merchant = None
        return cls(
            id=redemption_id.lower(),
            player_id=player_id,
            points=points,
            reward_description=description,
            requested_by=requested_by,
            channel=channel,
            created_at=now,
            request_hash=request_fingerprint(player_id, points, description, merchant),
            requested_by_player=requested_by_player,
            merchant=merchant,
            idempotency_key=idempotency_key,
            received_hash=(
                request_fingerprint(received_id, points, description, merchant)
                if received_id != player_id
                else None
            ),
        )

    @property
    def is_pending(self) -> bool:
        return self.status is RedemptionStatus.PENDING

    @property
    def amount(self) -> Amount:
        return Amount(Currency.POINTS, Decimal(self.points))

    @property
    def debit_key(self) -> str:
        """The idempotency key of its debit: one redemption debits at most once."""
        return REDEMPTION_KEY_PREFIX + self.id

    def is_same_request(self, other: Redemption) -> bool:
        """Whether ``other`` asks for exactly this (a retry, or a replayed event)."""
        return self.request_hash in (other.request_hash, other.received_hash)

    def decide(
        self, wallet: Wallet, *, player_known: bool, player_active: bool, now: datetime
    ) -> WalletTransaction | None:
        """Confirm when the player is known, active and has the points — the debit's log line
        is returned, its ``wallet_after`` is the wallet now — or reject with the reason
        (None)."""
        if not self.is_pending:
            raise RedemptionAlreadyDecided()
        if not player_known:
            self._reject(RejectionReason.UNKNOWN_PLAYER, wallet, now)
            return None
        if not player_active:
            self._reject(RejectionReason.PLAYER_INACTIVE, wallet, now)
            return None
        try:
            after = wallet.apply(TransactionType.DEBIT, self.amount)
        except InsufficientBalance:
            self._reject(RejectionReason.INSUFFICIENT_POINTS, wallet, now)
            return None
        details: dict[str, Any] = {"redeemRequestId": self.id}
        if self.merchant is not None:
            details["merchant"] = self.merchant.to_dict()
        debit = WalletTransaction.record(
            TransactionRequest(
                player_id=self.player_id,
                kind=TransactionType.DEBIT,
                amount=self.amount,
                idempotency_key=self.debit_key,
                actor=self.requested_by,
                source=TransactionSource.REDEMPTION,
                description=f"Redeemed: {self.reward_description}",
                additional_data=details,
            ),
            after,
            now,
        )
        self.status = RedemptionStatus.CONFIRMED
        self.transaction_id = debit.id
        self.points_balance = after.points
        self.decided_at = now
        return debit

    def _reject(self, reason: RejectionReason, wallet: Wallet, now: datetime) -> None:
        self.status = RedemptionStatus.REJECTED
        self.reason = reason
        self.points_balance = wallet.points
        self.decided_at = now

    @property
    def rejection_message(self) -> str | None:
        """Why it was rejected, in words a player understands."""
        if self.reason is RejectionReason.INSUFFICIENT_POINTS:
            return (
                f"The points balance ({self.points_balance}) is lower than the "
                f"{self.points} points this reward needs."
            )
        if self.reason is RejectionReason.PLAYER_INACTIVE:
            return "The player's account is not active."
        if self.reason is RejectionReason.INVALID_REQUEST:
            return "The request is not valid."
        if self.reason is RejectionReason.UNKNOWN_PLAYER:
            return "No player has this id."
        return None

    def readable_by(self, principal: Principal) -> bool:
        """Staff read every redemption, a player their own, a partner those it requested."""
        if principal.is_staff or principal.is_player(self.player_id):
            return True
        return principal.is_client and requester_of(principal) == self.requested_by


def requester_of(principal: Principal) -> str:
    """How a caller is recorded as the requester: the client id of a partner, or the user id."""
    return (principal.client_id or principal.subject)[:MAX_REQUESTER_LENGTH]
