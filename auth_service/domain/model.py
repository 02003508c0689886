"""Users, partner clients and signing keys, with the rules that govern them."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from auth_service.domain.exceptions import (
    AccountInactive,
    InvalidClientId,
    InvalidEmail,
    InvalidEventSources,
    InvalidName,
    InvalidPassword,
    ResetNotAllowed,
    UnknownScope,
    WeakClientSecret,
)
from shared.domain.exceptions import PermissionDenied
from shared.domain.player_ids import is_uuid_text
from shared.domain.principal import EventSource, Role, Scope
from shared.domain.text import first_control

# The addresses an account may have: ASCII, a dotted domain of letters, digits and hyphens
# (internationalised domains in their punycode form, xn--ls8h.la). No quote or backslash in the
# local part: a quoted "x"@example.com or x\y@ is another spelling of a mailbox already
# registered unquoted, and would make it a second account. The PLAYER_REGISTERED schema states
# this very pattern and length for its "email" (docs/events/; a test keeps them equal): a
# checker's "format": "email" (IDNA rules, which refuse emoji domains and "--" at positions 3-4
# of a label) would refuse addresses registered here, after their accounts were validated.
EMAIL_PATTERN = re.compile(
    r"^[\x21\x23-\x3f\x41-\x5b\x5d-\x7e]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
KNOWN_SCOPES = frozenset(s.value for s in Scope)


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively: store them trimmed and lower-cased."""
    return email.strip().lower()


def check_email(email: str) -> str:
    """``email`` (normalised) when an account may have it (:data:`EMAIL_PATTERN`)."""
    if len(email) > EMAIL_MAX_LENGTH or EMAIL_PATTERN.fullmatch(email) is None:
        raise InvalidEmail()
    return email


#: Unicode's own line and paragraph separators: line breaks too, though not control characters
_LINE_SEPARATORS = frozenset("\u2028\u2029")


def check_name(name: str, field: str) -> str:
    """A first or last name as typed, on one line and in reading order: no control character
    (a line break, a terminal escape) and no bidirectional control (U+202E would show it
    backwards). Names reach staff screens and other services (PLAYER_REGISTERED); markup such as
    "<" is left as it is, text to escape where it is shown."""
    char = first_control(name) or next((c for c in name if c in _LINE_SEPARATORS), None)
    if char is not None:
        raise InvalidName(
            f"The {field} may not contain control or bidirectional formatting characters"
            f" (U+{ord(char):04X})."
        )
    return name


def normalise_password(password: str) -> str:
    """NFKC (NIST SP 800-63B §5.1.1.2): one password however a keyboard or an operating system
    composes its characters (an é typed as one code point or as e and a combining accent)."""
    return unicodedata.normalize("NFKC", password)


def check_password_policy(password: str, email: str) -> None:
    """Length-based policy (NIST SP 800-63B): long enough, bounded, not the email itself; the
    length counted once the password is normalised."""
    password = normalise_password(password)
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidPassword(
            f"The password must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters long."
        )
    if password.strip().lower() == normalise_email(email) or len(set(password)) < 4:
        raise InvalidPassword("The password is too easy to guess.")


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


def after(previous: datetime | None, now: datetime) -> datetime:
    """``now``, or a millisecond (the events' precision) after ``previous`` when ``now`` is not
    later: an account's changes keep their order whatever the clocks of the processes making
    them. Every change of an account's ``updated_at`` goes through it, so that a status change
    is dated after every earlier change (services order status events by that date)."""
    if previous is None or now >= previous + timedelta(milliseconds=1):
        return now
    return previous + timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    role: Role
    status: UserStatus
    first_name: str
    last_name: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(
        cls,
        email: str,
        password_hash: str,
        role: Role,
        first_name: str,
        last_name: str,
        now: datetime,
    ) -> User:
        return cls(
            id=str(uuid.uuid4()),
            email=check_email(normalise_email(email)),
            password_hash=password_hash,
            role=role,
            status=UserStatus.ACTIVE,
            first_name=check_name(first_name, "first name").strip(),
            last_name=check_name(last_name, "last name").strip(),
            created_at=now,
            updated_at=now,
        )

    @property
    def is_active(self) -> bool:
        return self.status is UserStatus.ACTIVE

    def ensure_active(self) -> None:
        if not self.is_active:
            raise AccountInactive()

    def with_status(self, status: UserStatus, now: datetime) -> User:
        """The account in ``status`` from ``now`` — or just after its last change, should this
        process's clock be behind the one that made it: services apply an account's status
        changes in the order of these times and ignore an older one replayed (ADR 0015)."""
        return replace(self, status=status, updated_at=after(self.updated_at, now))

    def with_password_hash(self, password_hash: str, now: datetime) -> User:
        return replace(self, password_hash=password_hash, updated_at=after(self.updated_at, now))

    def managed_at_the_desk_by(self, actor_id: str, actor_role: Role | None) -> bool:
        """Whether the actor may act for this account's owner at the desk: staff for players,
        administrators for players and staff; nobody for an administrator or for themself."""
        allowed = {Role.STAFF: {Role.PLAYER}, Role.ADMIN: {Role.PLAYER, Role.STAFF}}
        return actor_id != self.id and self.role in allowed.get(actor_role or Role.PLAYER, set())

    def ensure_reset_allowed(self, actor_id: str, actor_role: Role | None) -> None:
        """A password reset at the desk (:meth:`managed_at_the_desk_by`): resetting an
        administrator's password or one's own would be a way into a higher or another account
        without knowing its password."""
        if not self.managed_at_the_desk_by(actor_id, actor_role):
            raise ResetNotAllowed()
        self.ensure_active()

    def ensure_sessions_endable_by(self, actor_id: str, actor_role: Role | None) -> None:
        """Ending the owner's sessions at the desk (a phone lost on the floor), by the same
        rule as a reset; one's own sessions end with ``DELETE /me/sessions``."""
        if not self.managed_at_the_desk_by(actor_id, actor_role):
            raise PermissionDenied(
                "Staff end players' sessions, administrators players' and staff's; end your "
                "own with DELETE /api/v1/auth/me/sessions."
            )


#: reset codes: no 0/O, 1/I/L, so a code read aloud or from paper is typed right
RESET_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
RESET_CODE_LENGTH = 12


def new_reset_code() -> str:
    """Twelve symbols (~59 bits) shown as ``XXXX-XXXX-XXXX``."""
    symbols = "".join(secrets.choice(RESET_CODE_ALPHABET) for _ in range(RESET_CODE_LENGTH))
    return "-".join(symbols[i : i + 4] for i in range(0, RESET_CODE_LENGTH, 4))


def normalise_reset_code(code: str) -> str:
    """As typed: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c not in " -")


class ClientStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


def check_client_id(client_id: str) -> str:
    """Services record who asked for something by user id or client id (a redemption's
    requester): a client named like a user would pass for that user there."""
    if is_uuid_text(client_id):
        raise InvalidClientId()
    return client_id


def check_scopes(scopes: frozenset[str]) -> frozenset[str]:
    unknown = scopes - KNOWN_SCOPES
    if unknown:
        raise UnknownScope(f"Unknown scopes: {', '.join(sorted(unknown))}.")
    return scopes


def check_event_sources(scopes: frozenset[str], sources: frozenset[str]) -> frozenset[str]:
    """A client that sends partner events (``rewards.write``) names the kinds it sends; no
    other client names any."""
    unknown = sources - {s.value for s in EventSource}
    if unknown:
        raise InvalidEventSources(f"Unknown event sources: {', '.join(sorted(unknown))}.")
    if Scope.REWARDS_WRITE in scopes and not sources:
        raise InvalidEventSources(
            "A client with rewards.write needs eventSources: the kinds of events it sends "
            "(HOTEL, CASINO, DINING)."
        )
    if sources and Scope.REWARDS_WRITE not in scopes:
        raise InvalidEventSources("eventSources are only for clients with rewards.write.")
    return sources


@dataclass(frozen=True, slots=True)
class PartnerClient:
    """A partner app or internal service authenticating with client credentials."""

    client_id: str
    name: str
    secret_hash: str
    scopes: frozenset[str]
    status: ClientStatus
    created_at: datetime
    created_by: str | None = None
    #: what a client with rewards.write may report (HOTEL, CASINO, DINING)
    event_sources: frozenset[str] = frozenset()
    updated_at: datetime | None = None
    updated_by: str | None = None
    #: when it was last disabled (None while active)
    disabled_at: datetime | None = None
    secret_rotated_at: datetime | None = None
    #: the secret before the last rotation, accepted until ``previous_secret_expires_at``
    previous_secret_hash: str | None = None
    previous_secret_expires_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status is ClientStatus.ACTIVE

    def grantable(self, requested: frozenset[str] | None) -> frozenset[str] | None:
        """The scopes to grant for ``requested`` (all allowed when none asked for), or None
        when something was asked for that this client may not have."""
        if not requested:
            return self.scopes
        if requested <= self.scopes:
            return requested
        return None

    def disabled(self, now: datetime, actor: str | None = None) -> PartnerClient:
        now = after(self.updated_at, now)
        return replace(
            self, status=ClientStatus.DISABLED, disabled_at=now, updated_at=now, updated_by=actor
        )

    def enabled(self, now: datetime, actor: str | None = None) -> PartnerClient:
        """Active again. The tokens it held before (perhaps a thief's) must not come back
        with it: enabling revokes every token issued until now (ADR 0021)."""
        if self.is_active:
            return self
        return replace(
            self,
            status=ClientStatus.ACTIVE,
            disabled_at=None,
            updated_at=after(self.updated_at, now),
            updated_by=actor,
        )

    def with_secret(
        self,
        secret_hash: str,
        now: datetime,
        actor: str | None = None,
        previous_valid_for: timedelta = timedelta(0),
    ) -> PartnerClient:
        """A new secret. The current one stays accepted for ``previous_valid_for`` (a planned
        rotation: the client's deployments switch meanwhile), or not at all (a leak); one
        rotated away earlier is forgotten either way."""
        keep = previous_valid_for > timedelta(0)
        return replace(
            self,
            secret_hash=secret_hash,
            secret_rotated_at=now,
            previous_secret_hash=self.secret_hash if keep else None,
            previous_secret_expires_at=now + previous_valid_for if keep else None,
            updated_at=after(self.updated_at, now),
            updated_by=actor,
        )

    def secret_hashes(self, now: datetime) -> list[str]:
        """The hashes a presented secret may match now: the current one, and the previous one
        while its overlap lasts."""
        hashes = [self.secret_hash]
        expires = self.previous_secret_expires_at
        if self.previous_secret_hash and expires is not None and now < expires:
            hashes.append(self.previous_secret_hash)
        return hashes

    def takes_rights_from(self, before: PartnerClient) -> bool:
        """Whether this version may do less than ``before`` (a scope or an event source
        gone): the tokens issued before the change would still carry what was taken away."""
        return not (self.scopes >= before.scopes and self.event_sources >= before.event_sources)

    def changed(
        self,
        now: datetime,
        name: str | None = None,
        scopes: frozenset[str] | None = None,
        event_sources: frozenset[str] | None = None,
        actor: str | None = None,
    ) -> PartnerClient:
        """New name, scopes or event sources, checked together as when it was created."""
        new_scopes = check_scopes(scopes if scopes is not None else self.scopes)
        new_sources = event_sources if event_sources is not None else self.event_sources
        if event_sources is None and Scope.REWARDS_WRITE not in new_scopes:
            new_sources = frozenset()  # no longer sends events: nothing to send
        return replace(
            self,
            name=name.strip() if name is not None else self.name,
            scopes=new_scopes,
            event_sources=check_event_sources(new_scopes, new_sources),
            updated_at=after(self.updated_at, now),
            updated_by=actor,
        )


#: added to a token lifetime wherever "every token of … has expired" is relied on
CLOCK_SKEW_MARGIN = timedelta(minutes=1)


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RETIRING = "RETIRING"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RS256 key pair. Only the active key signs; a retiring key stays published until every
    token it signed has expired."""

    kid: str
    private_key_pem: bytes  # encrypted at rest (PKCS#8, passphrase from configuration)
    public_jwk: dict[str, str] = field(hash=False)
    status: KeyStatus
    created_at: datetime
    retire_after: datetime | None = None

    def retire(self, now: datetime, token_lifetime: timedelta) -> SigningKey:
        # A small margin covers clock skew between services.
        return replace(
            self,
            status=KeyStatus.RETIRING,
            retire_after=now + token_lifetime + CLOCK_SKEW_MARGIN,
        )

    def is_published(self, now: datetime) -> bool:
        return self.status is KeyStatus.ACTIVE or (
            self.retire_after is not None and self.retire_after > now
        )


#: the shortest client secret a deployment may provision (the generated ones are 32 random
#: bytes, 43 characters)
MIN_PROVISIONED_SECRET_LENGTH = 32
#: the fewest different characters a provisioned secret has: 32 random characters of hex have
#: about 15, of base64url about 25, and 32 spaces or "ab" repeated 1 or 2
MIN_PROVISIONED_SECRET_DISTINCT = 8


def check_provisioned_secret(secret: str) -> str:
    """A client secret the deployment keeps (ADR 0022): long and random, as a generated one.
    Whitespace and control or invisible formatting characters are refused (a secret of spaces,
    a line break pasted with it, which an Authorization header or a form does not carry as
    given), and so is a secret of few different characters: no random secret has them."""
    if len(secret) < MIN_PROVISIONED_SECRET_LENGTH:
        raise WeakClientSecret(
            f"A client secret has at least {MIN_PROVISIONED_SECRET_LENGTH} characters."
        )
    if any(c.isspace() or unicodedata.category(c) in {"Cc", "Cf"} for c in secret):
        raise WeakClientSecret(
            "A client secret may not contain whitespace, control or formatting characters."
        )
    if len(set(secret)) < MIN_PROVISIONED_SECRET_DISTINCT:
        raise WeakClientSecret(
            f"A client secret has at least {MIN_PROVISIONED_SECRET_DISTINCT} different "
            "characters: use a random one."
        )
    return secret
