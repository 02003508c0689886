"""Request and response schemas of the wallet API (unknown fields are rejected; amounts are
strings in JSON so money never passes through a float)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from redeem_service.domain.model import Currency, TransactionSource, TransactionType
from shared.web.pagination import PageQuerySchema, page_schema

AMOUNT_PATTERN = r"^[0-9]{1,13}(\.[0-9]{1,2})?$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:\-]{1,100}$"


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
        validate=validate.Regexp(AMOUNT_PATTERN, error="Expected a decimal string like 10.50."),
        metadata={"description": "BONUS: up to 2 decimals; POINTS: whole", "example": "25.00"},
    )
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=500),
        metadata={"description": "Why the balance is adjusted (kept in the audit log)"},
    )


class IdempotencyHeaderSchema(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Regexp(
            IDEMPOTENCY_KEY_PATTERN, error="1 to 100 characters of [A-Za-z0-9._:-]."
        ),
        metadata={"description": "Retries with the same key return the first result"},
    )


class AdjustmentSchema(Schema):
    transaction = fields.Nested(TransactionSchema, required=True)
    balances = fields.Nested(BalancesSchema, required=True)
    replayed = fields.Boolean(
        required=True, metadata={"description": "True when the key was already used"}
    )
