"""An address an account may have is one PLAYER_REGISTERED may carry: the domain's rule and the
event's schema, as the platform checks it (jsonschema-rs), accept exactly the same addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from auth_service.application.events import player_registered
from auth_service.controllers.schemas import RegisterSchema, StaffRegisterSchema
from auth_service.domain.exceptions import InvalidEmail
from auth_service.domain.model import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    User,
    UserStatus,
    check_email,
)
from shared.domain.principal import Role
from shared.messaging.schemas import DEFAULT_SCHEMA_DIR, EventSchemaError, event_schemas

NOW = datetime(2026, 1, 1, tzinfo=UTC)

TRICKY = [
    "p@example.com",
    # Punycode: an emoji domain, a label with "--" at positions 3-4, one that decodes to
    # nothing; IDNA rules (a checker's "format": "email") refuse all three.
    "rv1@xn--ls8h.la",
    "x@ex--ample.com",
    "x@xn--zz.com",
    "x@xn--bcher-kva.de",
    "x@a-b.co",
    "x@a.b",
    "x@-a.com",
    "x@a-.com",
    "x@a..com",
    "x@a.com.",
    "x@.a.com",
    "x@a",
    "x@localhost",
    "x@[127.0.0.1]",
    "x@127.0.0.1",
    '"x"@example.com',
    "x\\y@example.com",
    "x y@example.com",
    "x@exa mple.com",
    "x@example.com\n",
    "\nx@example.com",
    "x@exämple.com",
    "ä@example.com",
    "x@ex_ample.com",
    "a..b@example.com",
    ".a@example.com",
    "a@b@example.com",
    "@example.com",
    "x@",
    "",
    "a" * 64 + "@example.com",
    "a" * 65 + "@example.com",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x@" + ".".join(["a" * 61] * 4),  # 2 + 247 = 249 characters
    "x@" + ".".join(["a" * 63] * 4),  # 257 characters, each label allowed
]


def published(email: str) -> bool:
    """Whether PLAYER_REGISTERED with ``email`` passes the event's schema."""
    user = User("u-1", email, "h", Role.PLAYER, UserStatus.ACTIVE, "", "", NOW, NOW)
    message = player_registered(user).to_message()
    try:
        event_schemas().validate(message)
    except EventSchemaError:
        return False
    return True


def accepted_by_the_domain(email: str) -> bool:
    try:
        check_email(email)
    except InvalidEmail:
        return False
    return True


def test_the_event_schema_states_the_domains_rule() -> None:
    schema = json.loads((DEFAULT_SCHEMA_DIR / "PLAYER_REGISTERED.v1.schema.json").read_text())
    email = schema["properties"]["email"]
    assert email["pattern"] == EMAIL_PATTERN.pattern
    assert email["maxLength"] == EMAIL_MAX_LENGTH
    assert "format" not in email


@pytest.mark.parametrize("email", TRICKY, ids=repr)
def test_the_domain_and_the_event_schema_agree_on_tricky_addresses(email: str) -> None:
    assert accepted_by_the_domain(email) == published(email)


def test_real_punycode_domains_are_addresses_an_account_may_have() -> None:
    for email in ("rv1@xn--ls8h.la", "x@ex--ample.com", "x@xn--zz.com", "x@xn--bcher-kva.de"):
        assert check_email(email) == email
        assert published(email)


_LOCAL = st.text(st.sampled_from('aZ09.+-_!#~"\\ @\nä\u212a'), min_size=0, max_size=70)
_LABEL = st.text(st.sampled_from("axn09-_ä\n"), min_size=0, max_size=66)
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=5).map(".".join)
_ADDRESSES = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", _LOCAL, _DOMAIN),
    st.emails(),
    st.text(max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(_ADDRESSES)
@example("x@xn--ls8h.la")
def test_whatever_the_domain_accepts_the_event_schema_accepts_and_only_that(email: str) -> None:
    assert accepted_by_the_domain(email) == published(email)


def _registrable(schema: RegisterSchema, email: str) -> bool:
    try:
        schema.load({"email": email, "password": "a long passphrase"})
    except ValidationError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(_ADDRESSES)
@example("rv1@xn--ls8h.la")
@example("x@ex--ample.com")
@example("x@xn--zz.com")
def test_an_address_registration_accepts_can_be_published(email: str) -> None:
    # Players' and staff's alike: both are held to the one rule.
    for schema in (RegisterSchema(), StaffRegisterSchema()):
        if _registrable(schema, email):
            normalised = email.strip().lower()
            assert accepted_by_the_domain(normalised)
            assert published(normalised)
