"""Request and response schemas of the earning API: partner events, rules, points."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from marshmallow import (
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates_schema,
)

from rewards_service.application.earning import MAX_EVENTS_PER_SUBMISSION
from rewards_service.controllers.schemas import Instant
from rewards_service.domain.earning import (
    MAX_RULE_POINTS,
    EarningSource,
    EarningType,
    PartnerEventType,
)
from shared.web.schemas import QueryBoolean

_POINTS = validate.Range(min=0, max=MAX_RULE_POINTS)
_POINT_KEYS = {"pointsPerEvent", "pointsPerNight", "pointsPerUnit"}


class UnitAmount(fields.String):
    """A money amount as a string with at most 2 decimals (never a float)."""

    PATTERN = re.compile(r"^[0-9]{1,7}(\.[0-9]{1,2})?$")

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else f"{Decimal(value):.2f}"

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not self.PATTERN.fullmatch(text) or Decimal(text) <= 0:
            raise ValidationError('Use a positive amount string with at most 2 decimals, "10.00".')
        return Decimal(text)


class PartnerEventSubmissionSchema(Schema):
    """``{"events": [...]}``, or one event object on its own."""

    events = fields.List(
        fields.Dict(keys=fields.String(validate=validate.Length(max=64))),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENTS_PER_SUBMISSION),
        metadata={
            "description": "Partner events (HOTEL_STAY, CASINO_SPEND, DINING, *_REVERSED), each "
            "as its schema in docs/events describes it; eventId, occurredAt, version and "
            "partnerId may be left out"
        },
    )

    @pre_load
    def _single(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and "events" not in data:
            return {"events": [data]}
        return data


class PartnerEventSchema(Schema):
    """One partner event, for the API documentation: the service reads the events with
    :class:`PartnerEventSubmissionSchema` and checks each against its schema in docs/events."""

    class Meta:
        unknown = INCLUDE

    event_type = fields.Enum(
        PartnerEventType,
        by_value=True,
        data_key="eventType",
        required=True,
        metadata={
            "description": "The event's other fields are those of its schema in docs/events; "
            "eventId, occurredAt, version and partnerId may be left out"
        },
    )
    user_id = fields.String(required=True, metadata={"description": "The player's id"})


class PartnerEventBatchSchema(Schema):
    """Several partner events, for the API documentation (see :class:`PartnerEventSchema`)."""

    events = fields.List(
        fields.Nested(PartnerEventSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_EVENTS_PER_SUBMISSION),
    )


#: The request body as documented: one event on its own, or a batch. Each is read by
#: PartnerEventSubmissionSchema, whose own schema (a batch only) would document half of it.
PARTNER_EVENT_SUBMISSION_DOC = {
    "content": {
        "application/json": {"schema": {"oneOf": [PartnerEventSchema, PartnerEventBatchSchema]}}
    }
}


class AcceptedEventsSchema(Schema):
    accepted = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The eventIds handed to the broker, in the order sent"},
    )
    unregistered_players = fields.List(
        fields.String(),
        data_key="unregisteredPlayers",
        required=True,
        metadata={
            "description": "Player ids rewards does not know yet: their events wait for the "
            "registration (a player who just signed up) and go to reward-events.dlq as "
            "unknown_player if none comes — check these ids"
        },
    )


class EarningParametersSchema(Schema):
    @pre_load
    def _points_given(self, data: Any, **_kwargs: Any) -> Any:
        # Every points field defaults to 0: "{}" would be a version that awards nothing, which
        # is a mistake far more often than a decision. Awarding nothing is said with a 0.
        if isinstance(data, dict) and not _POINT_KEYS & data.keys():
            raise ValidationError(
                "Give pointsPerEvent, pointsPerNight or pointsPerUnit (0 to award none)."
            )
        return data

    points_per_event = fields.Integer(
        data_key="pointsPerEvent", load_default=0, strict=True, validate=_POINTS
    )
    points_per_night = fields.Integer(
        data_key="pointsPerNight",
        load_default=0,
        strict=True,
        validate=_POINTS,
        metadata={"description": "HOTEL_STAY only"},
    )
    points_per_unit = fields.Integer(
        data_key="pointsPerUnit", load_default=0, strict=True, validate=_POINTS
    )
    unit_amount = UnitAmount(
        data_key="unitAmount",
        load_default=Decimal("10.00"),
        metadata={"description": "Points per unit are per FULL unit spent (floored)"},
    )


class EarningRuleCreateSchema(Schema):
    earning_type = fields.Enum(EarningType, by_value=True, data_key="ruleType", required=True)
    effective_from = Instant(
        data_key="effectiveFrom",
        required=True,
        metadata={"description": "At least the configured lead ahead of now (default 300 s)"},
    )
    parameters = fields.Nested(EarningParametersSchema, required=True)


class EarningRuleSchema(Schema):
    earning_type = fields.Enum(EarningType, by_value=True, data_key="ruleType", required=True)
    version = fields.Integer(required=True)
    effective_from = fields.DateTime(data_key="effectiveFrom", required=True)
    parameters = fields.Nested(EarningParametersSchema, required=True)
    status = fields.String(
        required=True,
        metadata={"description": "CURRENT, SCHEDULED, SUPERSEDED (as of now) or WITHDRAWN"},
    )
    created_at = fields.DateTime(data_key="createdAt", required=True)
    created_by = fields.String(data_key="createdBy", allow_none=True)
    withdrawn_at = fields.DateTime(data_key="withdrawnAt", allow_none=True)
    withdrawn_by = fields.String(data_key="withdrawnBy", allow_none=True)


class EarningRuleListSchema(Schema):
    items = fields.List(fields.Nested(EarningRuleSchema), required=True)


class EarningRuleQuerySchema(Schema):
    earning_type = fields.Enum(EarningType, by_value=True, data_key="ruleType")


class PointsQuerySchema(Schema):
    start = Instant(
        data_key="from",
        metadata={"description": "Inclusive start (ISO 8601 with an offset); all time if absent"},
    )
    end = Instant(
        data_key="to",
        metadata={"description": "Exclusive end (ISO 8601 with an offset); all time if absent"},
    )
    breakdown = QueryBoolean(
        load_default=False,
        metadata={"description": 'Add the totals per source: "true" or "false"'},
    )

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None and end <= start:
            raise ValidationError("Must be after from.", "to")


class SourceTotalSchema(Schema):
    points = fields.Integer(required=True)
    events = fields.Integer(
        required=True, metadata={"description": "Events counted (earnings and reversals)"}
    )


class PointsSchema(Schema):
    player_id = fields.String(data_key="playerId", required=True)
    total_points = fields.Integer(data_key="totalPoints", required=True)
    start = fields.DateTime(data_key="from", allow_none=True)
    end = fields.DateTime(data_key="to", allow_none=True)
    breakdown = fields.Dict(
        keys=fields.Enum(EarningSource, by_value=True),
        values=fields.Nested(SourceTotalSchema),
        metadata={"description": "Per source (HOTEL, CASINO, DINING), reversals netted in"},
    )
    calculation_timestamp = fields.DateTime(data_key="calculationTimestamp", required=True)
