"""Request and response schemas of the identity API (unknown fields are rejected)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from auth_service.domain.model import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    MIN_PROVISIONED_SECRET_LENGTH,
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    UserStatus,
)
from shared.domain.principal import EventSource, Role, Scope
from shared.web.pagination import PageQuerySchema, page_schema
from shared.web.schemas import FullMatch

# The domain's rule (``check_email``, which the PLAYER_REGISTERED schema states as well), refused
# here with the field named; marshmallow's Email adds its own checks (no empty dot-separated
# part in the local part, a top-level domain of two characters or more): a subset of the rule.
_email = fields.Email(
    required=True,
    validate=[
        validate.Length(max=EMAIL_MAX_LENGTH),
        FullMatch(
            EMAIL_PATTERN,
            error="Use an ASCII address with a dotted domain (punycode for other scripts).",
        ),
    ],
)


def _new_password(**kwargs: Any) -> fields.Field[Any]:
    """A password being set: the policy's length here, the rest in the domain."""
    return fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
        **kwargs,
    )


class RegisterSchema(Schema):
    email = _email
    password = _new_password()
    first_name = fields.String(
        data_key="firstName", load_default="", validate=validate.Length(max=100)
    )
    last_name = fields.String(
        data_key="lastName", load_default="", validate=validate.Length(max=100)
    )


class StaffRegisterSchema(RegisterSchema):
    # Matched exactly, as every enum of the API ("ADMIN" is not "admin"). A string field, so
    # that a refusal and the OpenAPI document name only the roles accepted here.
    role = fields.String(
        load_default=Role.STAFF.value,
        validate=validate.OneOf([Role.STAFF.value, Role.ADMIN.value]),
    )

    @post_load
    def to_role(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "role": Role(data["role"])}


# An address as typed at login (not checked against the registration rules: no hint given).
_login_email = fields.String(required=True, validate=validate.Length(min=3, max=254))


class LoginSchema(Schema):
    email = _login_email
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH)
    )


class PasswordChangeSchema(Schema):
    current_password = fields.String(
        data_key="currentPassword",
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=PASSWORD_MAX_LENGTH),
    )
    new_password = _new_password(data_key="newPassword")


class PasswordResetWithCodeSchema(Schema):
    email = _login_email
    reset_code = fields.String(
        data_key="resetCode", required=True, load_only=True, validate=validate.Length(max=40)
    )
    new_password = _new_password(data_key="newPassword")


class PasswordResetSchema(Schema):
    user_id = fields.String(data_key="userId", required=True)
    code = fields.String(
        data_key="resetCode",
        required=True,
        metadata={"description": "Shown this once; give it to the account's owner only."},
    )
    expires_at = fields.DateTime(data_key="expiresAt", required=True)


class UserSchema(Schema):
    id = fields.String(required=True)
    email = fields.String(required=True)
    role = fields.Enum(Role, by_value=True, required=True)
    status = fields.Enum(UserStatus, by_value=True, required=True)
    first_name = fields.String(data_key="firstName")
    last_name = fields.String(data_key="lastName")
    created_at = fields.DateTime(data_key="createdAt")
    updated_at = fields.DateTime(data_key="updatedAt")


UserPageSchema = page_schema(UserSchema, "UserPage")


class UserQuerySchema(PageQuerySchema):
    role = fields.Enum(Role, by_value=True)
    status = fields.Enum(UserStatus, by_value=True)
    q = fields.String(validate=validate.Length(min=1, max=100))


class AccessTokenSchema(Schema):
    access_token = fields.String(data_key="accessToken", required=True)
    token_type = fields.String(data_key="tokenType", required=True)
    expires_in = fields.Integer(data_key="expiresIn", required=True)
    user = fields.Nested(UserSchema)


class SessionSchema(Schema):
    subject = fields.String(required=True)
    role = fields.Enum(Role, by_value=True, allow_none=True)
    scopes = fields.List(fields.String())
    client_id = fields.String(data_key="clientId", allow_none=True)
    expires_at = fields.Integer(data_key="expiresAt", metadata={"description": "Unix time"})


def _client_name(**kwargs: Any) -> fields.Field[Any]:
    return fields.String(
        validate=[
            validate.Length(min=1, max=100),
            FullMatch(r"^[^\r\n]*\S[^\r\n]*$", error="A name on one line, not blank."),
        ],
        **kwargs,
    )


def _client_scopes(**kwargs: Any) -> fields.Field[Any]:
    return fields.List(
        fields.String(validate=validate.OneOf([s.value for s in Scope])),
        validate=validate.Length(min=1, max=len(Scope)),
        **kwargs,
    )


def _client_event_sources(**kwargs: Any) -> fields.Field[Any]:
    return fields.List(
        fields.String(validate=validate.OneOf([s.value for s in EventSource])),
        data_key="eventSources",
        validate=validate.Length(max=len(EventSource)),
        metadata={
            "description": "The kinds of partner events the client sends; required with "
            "rewards.write (a hotel system: [HOTEL]), not allowed without it."
        },
        **kwargs,
    )


class ClientCreateSchema(Schema):
    name = _client_name(required=True)
    scopes = _client_scopes(required=True)
    client_id = fields.String(
        data_key="clientId",
        validate=[validate.Length(min=3, max=64), FullMatch(r"^[a-z0-9][a-z0-9-]*$")],
        metadata={"description": "Not in the form of a UUID (a user id)"},
    )
    event_sources = _client_event_sources(load_default=list)
    client_secret = fields.String(
        data_key="clientSecret",
        load_only=True,
        validate=validate.Length(min=MIN_PROVISIONED_SECRET_LENGTH, max=256),
        metadata={
            "description": "Optional: a secret the deployment already keeps for the client "
            "(at least 32 characters, random: no whitespace, control or formatting characters, "
            "at least 8 different ones, else 422 AUTH_WEAK_CLIENT_SECRET); without it auth "
            "generates one and answers it once."
        },
    )


class ClientUpdateSchema(Schema):
    """Only what is given changes. Dropping rewards.write drops the event sources too."""

    name = _client_name()
    scopes = _client_scopes()
    event_sources = _client_event_sources()

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of name, scopes, eventSources.")


#: the longest a previous secret may keep working after a planned rotation (a week)
MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600


class ClientSecretRotationSchema(Schema):
    """Optional: without it (or with 0) the old secret stops at once and its tokens are
    revoked, as after a leak."""

    previous_secret_valid_for_seconds = fields.Integer(
        data_key="previousSecretValidForSeconds",
        strict=True,
        load_default=0,
        validate=validate.Range(0, MAX_SECRET_OVERLAP_SECONDS),
        metadata={
            "description": "A planned rotation: the old secret keeps working this long "
            "(at most a week) and no token is revoked."
        },
    )


class ClientSchema(Schema):
    client_id = fields.String(data_key="clientId", required=True)
    name = fields.String(required=True)
    scopes = fields.Method("_scopes")
    event_sources = fields.Method("_event_sources", data_key="eventSources")
    status = fields.String(required=True)
    created_at = fields.DateTime(data_key="createdAt")
    created_by = fields.String(data_key="createdBy", allow_none=True)
    updated_at = fields.DateTime(data_key="updatedAt", allow_none=True)
    updated_by = fields.String(data_key="updatedBy", allow_none=True)
    disabled_at = fields.DateTime(data_key="disabledAt", allow_none=True)
    secret_rotated_at = fields.DateTime(data_key="secretRotatedAt", allow_none=True)
    previous_secret_expires_at = fields.DateTime(
        data_key="previousSecretExpiresAt", allow_none=True
    )

    def _scopes(self, obj: object) -> list[str]:
        return _sorted_field(obj, "scopes")

    def _event_sources(self, obj: object) -> list[str]:
        return _sorted_field(obj, "event_sources")


def _sorted_field(obj: object, name: str) -> list[str]:
    # A client, or the fields of one just created (with its secret).
    values = obj.get(name, ()) if isinstance(obj, dict) else getattr(obj, name, ())
    return sorted(values)


class ClientCreatedSchema(ClientSchema):
    client_secret = fields.String(
        data_key="clientSecret",
        required=True,
        metadata={"description": "Shown once; only its hash is stored."},
    )


ClientPageSchema = page_schema(ClientSchema, "ClientPage")


class SigningKeySchema(Schema):
    kid = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(data_key="createdAt")
    retire_after = fields.DateTime(data_key="retireAfter", allow_none=True)
