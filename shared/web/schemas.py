"""Schemas every API documents: the error envelope, and a helper to declare error responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

F = TypeVar("F", bound=Callable[..., Any])

BEARER_AUTH: list[dict[str, list[str]]] = [{"bearerAuth": []}]

_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired access token",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "Validation failed",
    429: "Too many requests",
    503: "A dependency is unavailable; retry later",
}


class FullMatch(validate.Regexp):
    """``validate.Regexp`` that must match the whole value: with ``re.match``, a pattern ending
    in ``$`` also accepts the value followed by a newline. The pattern (``^…$``) is what the
    API documents show."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


class StrictBoolean(fields.Boolean):
    """A JSON ``true`` or ``false`` in a request body, nothing else. marshmallow's Boolean also
    reads ``"off"``, ``"no"``, ``"0"``, ``1`` and ``0``, so a flag sent as a string or a number
    would switch a setting instead of being refused, as integer fields refuse ``"5"``."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        # Not ``value in {True}``: 1 and 1.0 compare (and hash) equal to True.
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid", input=value)


class QueryBoolean(fields.Boolean):
    """A flag in a query string: exactly ``true`` or ``false``; ``yes``, ``1``, ``off`` or
    ``True`` are refused, not read as one or the other."""

    default_error_messages = {"invalid": 'Must be "true" or "false".'}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy={"true"}, falsy={"false"}, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable application error code"})
    message = fields.String(required=True)
    correlation_id = fields.String(data_key="correlationId", required=True)
    details = fields.Raw(metadata={"description": "Field errors, when validation failed"})


class ErrorEnvelopeSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


def errors(blp: Blueprint, *statuses: int) -> Callable[[F], F]:
    """Document the error envelope for ``statuses`` on a view."""

    def decorator(view: F) -> F:
        for status in statuses:
            view = blp.alt_response(
                status, schema=ErrorEnvelopeSchema, description=_DESCRIPTIONS.get(status, "Error")
            )(view)
        return view

    return decorator
