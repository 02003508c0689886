"""Request and response schemas of the promotions API (unknown fields are rejected)."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from rfc3339_validator import validate_rfc3339

from rewards_service.domain.model import (
    DESCRIPTION_MAX_LENGTH,
    MAX_CLAIMS_LIMIT,
    MAX_CLAIMS_PER_PLAYER_LIMIT,
    MAX_PLAYERS_PER_ASSIGNMENT,
    MONEY_QUANTUM,
    TITLE_MAX_LENGTH,
    AssignmentSource,
    PlayerPromotionStatus,
    PromotionType,
)
from rewards_service.domain.points import EARLIEST, LATEST
from shared.application.events import parse_timestamp
from shared.web.pagination import PageQuerySchema, page_schema
from shared.web.schemas import QueryBoolean, StrictBoolean


class Instant(fields.AwareDateTime):
    """An RFC 3339 date-time (an offset required; ``t`` and ``z`` may be lower case, as the
    event schemas' ``date-time`` allows), between 2000-01-01 and 2100-01-01 (UTC). Other ISO
    8601 forms (week dates, no separators, a space for ``T``) are refused. Without the bound, a
    year-9999 date with a negative offset is year 10000 in UTC: PostgreSQL stores it, and the
    row could never be read back."""

    def __init__(self, **kwargs: Any) -> None:
        bounded = validate.Range(
            min=EARLIEST, max=LATEST, error="Must be between 2000-01-01 and 2100-01-01 (UTC)."
        )
        super().__init__(validate=bounded, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        # The check the event schemas' date-time format uses; it wants T and Z in capitals.
        if not isinstance(value, str) or not validate_rfc3339(value.upper()):
            raise self.make_error("invalid", input=value, obj_type="RFC 3339 date-time")
        try:
            return parse_timestamp(value)
        except ValueError:
            raise self.make_error("invalid", input=value, obj_type="RFC 3339 date-time") from None


class Money(fields.String):
    """A money amount as a JSON string with at most two decimals, e.g. ``"25.00"``; numbers are
    refused so no float ever carries money. Responses always have exactly two decimals."""

    PATTERN = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
    _compiled = re.compile(PATTERN)

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "pattern": self.PATTERN,
            "example": "25.00",
            "description": "Decimal amount as a string with at most 2 decimals (never a number).",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        return str(Decimal(value).quantize(MONEY_QUANTUM))

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self._compiled.fullmatch(text):
            raise ValidationError('Use a string with at most 2 decimals, e.g. "25.00".')
        return Decimal(text)


class PromotionCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=TITLE_MAX_LENGTH))
    description = fields.String(
        load_default="", validate=validate.Length(max=DESCRIPTION_MAX_LENGTH)
    )
    type = fields.Enum(PromotionType, by_value=True, required=True)
    amount = Money(required=True)
    is_active = StrictBoolean(data_key="isActive", load_default=True)
    start_date = Instant(
        data_key="startDate", required=True, metadata={"description": "ISO 8601 with an offset"}
    )
    end_date = Instant(
        data_key="endDate",
        required=True,
        metadata={"description": "Exclusive end of the window; after startDate"},
    )
    max_claims = fields.Integer(
        data_key="maxClaims",
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_CLAIMS_LIMIT),
        metadata={"description": "Claims allowed over all players; unlimited when absent"},
    )
    max_claims_per_player = fields.Integer(
        data_key="maxClaimsPerPlayer",
        load_default=1,
        strict=True,
        validate=validate.Range(min=1, max=MAX_CLAIMS_PER_PLAYER_LIMIT),
        metadata={"description": "How many times one player may claim their assignment"},
    )

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if data["end_date"] <= data["start_date"]:
            raise ValidationError("Must be after startDate.", "endDate")


class PromotionUpdateSchema(Schema):
    is_active = StrictBoolean(data_key="isActive")
    start_date = Instant(data_key="startDate")
    end_date = Instant(data_key="endDate")

    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of isActive, startDate, endDate.")
        start, end = data.get("start_date"), data.get("end_date")
        if start is not None and end is not None and end <= start:
            raise ValidationError("Must be after startDate.", "endDate")


class PromotionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    type = fields.Enum(PromotionType, by_value=True, required=True)
    amount = Money(required=True)
    is_active = fields.Boolean(data_key="isActive", required=True)
    start_date = fields.DateTime(data_key="startDate", required=True)
    end_date = fields.DateTime(data_key="endDate", required=True)
    max_claims = fields.Integer(data_key="maxClaims", allow_none=True)
    max_claims_per_player = fields.Integer(data_key="maxClaimsPerPlayer", required=True)
    claims_count = fields.Integer(data_key="claimsCount", required=True)
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")
    created_by = fields.String(data_key="createdBy", allow_none=True)


PromotionPageSchema = page_schema(PromotionSchema, "PromotionPage")


class PromotionQuerySchema(PageQuerySchema):
    type = fields.Enum(PromotionType, by_value=True)
    active = QueryBoolean(
        metadata={"description": 'Filter on the isActive flag: "true" or "false"'}
    )
    window_from = Instant(
        data_key="from", metadata={"description": "Promotions whose window ends after this"}
    )
    window_to = Instant(
        data_key="to", metadata={"description": "Promotions whose window starts before this"}
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Case-insensitive text in the title or description"},
    )

    @validates_schema
    def _window(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("window_from"), data.get("window_to")
        if start is not None and end is not None and end <= start:
            raise ValidationError("Must be after from.", "to")


class AssignSchema(Schema):
    player_ids = fields.List(
        fields.UUID(),
        data_key="playerIds",
        required=True,
        validate=validate.Length(min=1, max=MAX_PLAYERS_PER_ASSIGNMENT),
        metadata={
            "description": "Registered players' ids: at most 500 in the list as sent, repeats"
            " included; a player listed twice is assigned once and answered once"
        },
    )


class AssignmentResultSchema(Schema):
    promotion_id = fields.String(data_key="promotionId", required=True)
    assigned = fields.List(
        fields.String(), required=True, metadata={"description": "Newly assigned (notified)"}
    )
    already_assigned = fields.List(
        fields.String(),
        data_key="alreadyAssigned",
        required=True,
        metadata={"description": "Held the promotion already; left unchanged"},
    )


class PromotionSummarySchema(Schema):
    """The promotion as its holder sees it."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    type = fields.Enum(PromotionType, by_value=True, required=True)
    amount = Money(required=True)
    is_active = fields.Boolean(data_key="isActive", required=True)
    start_date = fields.DateTime(data_key="startDate", required=True)
    end_date = fields.DateTime(data_key="endDate", required=True)


class PlayerPromotionSchema(Schema):
    id = fields.String(required=True)
    player_id = fields.String(data_key="playerId", required=True)
    status = fields.Enum(
        PlayerPromotionStatus,
        by_value=True,
        required=True,
        metadata={
            "description": "EXPIRED: not claimed and the promotion ended, was deactivated or has"
            " no claims left (its maxClaims reached); ASSIGNED also before it starts"
        },
    )
    source = fields.Enum(AssignmentSource, by_value=True, required=True)
    claim_count = fields.Integer(data_key="claimCount", required=True)
    claims_remaining = fields.Integer(
        data_key="claimsRemaining",
        required=True,
        metadata={"description": "Claims the player may make now: 0 unless ASSIGNED and started"},
    )
    assigned_at = fields.DateTime(data_key="assignedAt", required=True)
    last_claimed_at = fields.DateTime(data_key="lastClaimedAt", allow_none=True)
    promotion = fields.Nested(PromotionSummarySchema, required=True)


PlayerPromotionPageSchema = page_schema(PlayerPromotionSchema, "PlayerPromotionPage")


class PlayerPromotionQuerySchema(PageQuerySchema):
    status = fields.Enum(PlayerPromotionStatus, by_value=True)
    type = fields.Enum(PromotionType, by_value=True)


class ClaimSchema(Schema):
    promotion_id = fields.UUID(
        data_key="promotionId", required=True, metadata={"description": "A promotion you hold"}
    )


class MoneyBalance(Money):
    """A balance in an answer: up to the wallet's own limit (999,999,999,999.99), exactly two
    decimals; never read from a request."""

    PATTERN = r"^[0-9]{1,13}\.[0-9]{2}$"
    _compiled = re.compile(PATTERN)


class ClaimResultSchema(Schema):
    player_promotion_id = fields.String(data_key="playerPromotionId", required=True)
    promotion_id = fields.String(data_key="promotionId", required=True)
    status = fields.Enum(PlayerPromotionStatus, by_value=True, required=True)
    claim_count = fields.Integer(data_key="claimCount", required=True)
    amount = Money(required=True, metadata={"description": "Bonus credited to the wallet"})
    transaction_id = fields.String(
        data_key="transactionId",
        allow_none=True,
        metadata={"description": "The wallet transaction (none for a zero amount)"},
    )
    bonus_balance = MoneyBalance(
        data_key="bonusBalance", allow_none=True, metadata={"description": "After the credit"}
    )
