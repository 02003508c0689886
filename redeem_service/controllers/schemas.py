"""Request and response schemas of the wallet API (unknown fields are rejected; amounts are
strings in JSON so money never passes through a float)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, pre_load, validate

from redeem_service.domain.model import Currency, TransactionSource, TransactionType
from redeem_service.domain.redemption import (
    MAX_REDEMPTION_POINTS,
    MAX_REWARD_DESCRIPTION_LENGTH,
    Merchant,
    RedemptionChannel,
    RedemptionStatus,
    RejectionReason,
)
from shared.web.pagination import PageQuerySchema, page_schema
from shared.web.schemas import FullMatch

AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:\-]{1,100}$"
PLAYER_ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"


class BalancesSchema(Schema):
    bonus = fields.String(
        required=True, metadata={"description": "Bonus money, two decimals", "example": "25.00"}
    )
    points = fields.Integer(required=True, metadata={"example": 1500})


class TransactionSchema(Schema):
    id = fields.String(required=True)
    amount = fields.String(
        required=True, metadata={"description": "Positive; see type", "example": "10.50"}
    )
    currency = fields.Enum(Currency, by_value=True, required=True)
    type = fields.Enum(TransactionType, by_value=True, required=True)
    description = fields.String(required=True)
    additional_data = fields.Dict(data_key="additionalData", required=True)
    actor = fields.String(required=True, metadata={"description": "Client id or user id"})
    source = fields.Enum(TransactionSource, by_value=True, required=True)
    balance_after = fields.String(
        data_key="balanceAfter",
        required=True,
        metadata={"description": "The balance of this currency right after the transaction"},
    )
    created_at = fields.DateTime(data_key="createdAt", required=True)


TransactionPageSchema = page_schema(TransactionSchema, "WalletTransactionPage")


class PointsBalanceSchema(Schema):
    player_id = fields.String(data_key="playerId", required=True)
    points = fields.Integer(
        required=True,
        metadata={
            "description": "What the player can redeem now (below zero after a reversal of "
            "points already spent)",
            "example": 1500,
        },
    )


class WalletSchema(Schema):
    player_id = fields.String(data_key="playerId", required=True)
    balances = fields.Nested(BalancesSchema, required=True)
    transactions = fields.Nested(TransactionPageSchema, required=True)


class WalletQuerySchema(PageQuerySchema):
    currency = fields.Enum(Currency, by_value=True)
    type = fields.Enum(TransactionType, by_value=True)


class AdjustmentCreateSchema(Schema):
    currency = fields.Enum(Currency, by_value=True, required=True)
    type = fields.Enum(TransactionType, by_value=True, required=True)
    amount = fields.String(
        required=True,
        validate=FullMatch(AMOUNT_PATTERN, error="Expected a decimal string like 10.50."),
        metadata={"description": "BONUS: up to 2 decimals; POINTS: whole", "example": "25.00"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=500),
        metadata={
            "description": "Why the balance is adjusted: kept in the audit log and shown to "
            "the player (their statement and the notification of the adjustment)"
        },
    )


def _key_or_absent(value: str) -> None:
    if value and not re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value):
        raise ValidationError("1 to 100 characters of [A-Za-z0-9._:-].")


class IdempotencyHeaderSchema(Schema):
    """``Idempotency-Key``, required: documented so, and a request without it answered 400
    ``REDEEM_IDEMPOTENCY_KEY_REQUIRED`` by the view (:func:`required_idempotency_key`), not a
    422; an empty value here stands for its absence."""

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=_key_or_absent,
        metadata={
            "pattern": IDEMPOTENCY_KEY_PATTERN,
            "description": "Required (400 REDEEM_IDEMPOTENCY_KEY_REQUIRED without it): a retry "
            "with the same key and body returns the first answer, never a second effect; the "
            "same key with another body is refused (REDEEM_IDEMPOTENCY_KEY_REUSED).",
        },
    )

    @pre_load
    def _absent_as_empty(self, data: Mapping[str, Any], **_: Any) -> dict[str, Any]:
        # webargs' header proxy answers an absent header with marshmallow's ``missing``.
        value = data.get("Idempotency-Key")
        return {"Idempotency-Key": value if isinstance(value, str) else ""}


class AdjustmentSchema(Schema):
    transaction = fields.Nested(TransactionSchema, required=True)
    balances = fields.Nested(BalancesSchema, required=True)
    replayed = fields.Boolean(
        required=True, metadata={"description": "True when the key was already used"}
    )


# -- redemptions -----------------------------------------------------------------------------


class MerchantSchema(Schema):
    partner_id = fields.String(
        data_key="partnerId",
        validate=validate.Length(min=1, max=64),
        metadata={"example": "dining"},
    )
    location = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"example": "Steakhouse, level 2"}
    )
    reference = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"example": "table-12"}
    )

    @post_load
    def to_merchant(self, data: dict[str, Any], **_: Any) -> Merchant:
        return Merchant(**data)


class RedemptionCreateSchema(Schema):
    player_id = fields.String(
        data_key="playerId",
        validate=FullMatch(PLAYER_ID_PATTERN, error="1 to 64 characters of [A-Za-z0-9._:-]."),
        metadata={"description": "Partners: required. Players: optional, and only their own id"},
    )
    points = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_REDEMPTION_POINTS),
        metadata={"example": 500},
    )
    reward_description = fields.String(
        data_key="rewardDescription",
        required=True,
        validate=validate.Length(min=1, max=MAX_REWARD_DESCRIPTION_LENGTH),
        metadata={"example": "Dinner for two"},
    )
    merchant = fields.Nested(MerchantSchema, metadata={"description": "Optional context"})


class RedemptionAcceptedSchema(Schema):
    redeem_request_id = fields.String(data_key="redeemRequestId", required=True)
    status = fields.Enum(RedemptionStatus, by_value=True, required=True)


class RedemptionSchema(Schema):
    redeem_request_id = fields.String(attribute="id", data_key="redeemRequestId", required=True)
    player_id = fields.String(data_key="playerId", required=True)
    points = fields.Integer(required=True)
    reward_description = fields.String(data_key="rewardDescription", required=True)
    merchant = fields.Nested(MerchantSchema, allow_none=True)
    status = fields.Enum(RedemptionStatus, by_value=True, required=True)
    reason = fields.Enum(RejectionReason, by_value=True, allow_none=True)
    message = fields.String(attribute="rejection_message", allow_none=True)
    requested_by = fields.String(
        data_key="requestedBy", required=True, metadata={"description": "Client id or user id"}
    )
    channel = fields.Enum(
        RedemptionChannel,
        by_value=True,
        required=True,
        metadata={"description": "API, or EVENT when a partner produced it to redeem-events"},
    )
    transaction_id = fields.String(data_key="transactionId", allow_none=True)
    points_balance = fields.Integer(
        data_key="pointsBalance",
        allow_none=True,
        metadata={"description": "The points balance right after the decision"},
    )
    created_at = fields.DateTime(data_key="createdAt", required=True)
    decided_at = fields.DateTime(data_key="decidedAt", allow_none=True)


RedemptionPageSchema = page_schema(RedemptionSchema, "RedemptionPage")


class RedemptionQuerySchema(PageQuerySchema):
    player_id = fields.String(
        data_key="playerId",
        validate=FullMatch(PLAYER_ID_PATTERN, error="1 to 64 characters of [A-Za-z0-9._:-]."),
        metadata={"description": "Required for staff and partners; players see their own"},
    )
    status = fields.Enum(RedemptionStatus, by_value=True)
