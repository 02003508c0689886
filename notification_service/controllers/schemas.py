"""Request and response schemas of the notification API (unknown fields are rejected)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.domain.player_ids import UUID_PATTERN, is_uuid_text
from shared.web.pagination import PageQuerySchema
from shared.web.schemas import QueryBoolean


def _player_id(value: str) -> None:
    # A mistyped id (a stray space or brace, no dashes) would read as a player without
    # notifications; the service keeps no list of players to tell an unknown one apart.
    if not is_uuid_text(value):
        raise ValidationError("A player id is a UUID (8-4-4-4-12 hex digits).")


def _user_id() -> fields.String:
    return fields.String(
        data_key="userId",
        validate=_player_id,
        metadata={
            "description": "Staff only: whose notifications (default: the caller's), a player "
            "id (UUID, either case); anything else is 422.",
            "format": "uuid",
            "pattern": UUID_PATTERN,
        },
    )


class NotificationQuerySchema(PageQuerySchema):
    unread = QueryBoolean(
        load_default=False,
        metadata={"description": 'Only unread notifications: "true" or "false".'},
    )
    before = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={
            "description": "Only notifications older than this one (its id: the previous "
            "answer's nextBefore). Pages taken this way neither repeat nor skip notifications "
            "while new ones arrive or are marked read; with it, page stays 1."
        },
    )
    user_id = _user_id()

    @validates_schema
    def _one_way_of_paging(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("before") is not None and data.get("page", 1) != 1:
            raise ValidationError("Page with before (nextBefore) or page, not both.", "before")


class UserQuerySchema(Schema):
    user_id = _user_id()


class NoQuerySchema(Schema):
    """For the endpoints that act on the caller's own notifications only: a ``userId`` there
    (as the list and the count take) is refused, not ignored, so nobody marks their own
    notifications read believing they marked a player's."""


class NoBodySchema(Schema):
    """The same for a body: ``{}`` or none at all; a ``userId`` (or anything else) there is
    refused, not ignored."""


class NotificationSchema(Schema):
    """The same shape the WebSocket sends in ``{"type": "notification", "notification": …}``."""

    id = fields.String(required=True, metadata={"description": "ObjectId, 24 hex digits"})
    type = fields.String(
        required=True, metadata={"description": "The event type, e.g. PROMOTION, BONUS_CREDITED"}
    )
    title = fields.String()
    message = fields.String()
    content = fields.Dict(
        required=True, metadata={"description": "Free-form, as the producing service wrote it"}
    )
    read = fields.Boolean(required=True)
    # The view already speaks the wire names (shared with the WebSocket).
    created_at = fields.String(
        attribute="createdAt", data_key="createdAt", required=True, metadata={"format": "date-time"}
    )
    read_at = fields.String(attribute="readAt", data_key="readAt", metadata={"format": "date-time"})


class NotificationListSchema(Schema):
    user_id = fields.String(required=True)
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(data_key="pageSize", required=True)
    total = fields.Integer(required=True)
    next_before = fields.String(
        data_key="nextBefore",
        allow_none=True,
        required=True,
        metadata={
            "description": "Pass as before for the next page; null when this page was the last."
        },
    )


class UnreadCountSchema(Schema):
    user_id = fields.String(required=True)
    unread_count = fields.Integer(data_key="unreadCount", required=True)


class MarkedReadSchema(Schema):
    user_id = fields.String(required=True)
    updated = fields.Integer(
        required=True, metadata={"description": "How many notifications were marked read"}
    )
