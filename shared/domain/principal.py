"""Who is calling: a user (player, staff, admin) or a partner/internal client with scopes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from shared.domain.exceptions import PermissionDenied


class Role(StrEnum):
    PLAYER = "player"
    STAFF = "staff"
    ADMIN = "admin"


class Scope(StrEnum):
    REWARDS_READ = "rewards.read"
    REWARDS_WRITE = "rewards.write"
    REWARDS_REDEEM = "rewards.redeem"
    WALLET_WRITE = "wallet.write"


class EventSource(StrEnum):
    """What a partner client with ``rewards.write`` may report (its tokens carry them in
    ``event_sources``): a hotel system stays, a casino wagers, a restaurant checks."""

    HOTEL = "HOTEL"
    CASINO = "CASINO"
    DINING = "DINING"


STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})

#: the role a ``USER_STATUS_CHANGED`` names for a partner or internal client
CLIENT_ROLE = "client"


def account_key(subject: str, *, client: bool) -> str:
    """Whose status decides whether a token is accepted: a user's id, or ``client:<id>``, so
    a client id can never stand for a user's account (or the other way round)."""
    return f"client:{subject}" if client else subject


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request, built from a verified access token."""

    subject: str
    role: Role | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str | None = None
    token_id: str | None = None
    #: the partner event sources a client may send; None: the token names none (no limit)
    event_sources: frozenset[str] | None = None
    #: when the token was issued (``iat``, epoch seconds), for revocations (ADR 0021)
    issued_at: int | None = None

    @property
    def is_client(self) -> bool:
        return self.role is None

    @property
    def account(self) -> str:
        """The key of this caller's account status (see :func:`account_key`)."""
        return account_key(self.subject, client=self.is_client)

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def may_send_events_of(self, source: str) -> bool:
        return self.event_sources is None or source in self.event_sources

    def is_player(self, player_id: str) -> bool:
        return self.role is Role.PLAYER and self.subject == player_id

    def ensure_can_read_player(self, player_id: str, scope: str | None = None) -> None:
        """A player reads only their own data; staff read anyone's; clients need ``scope``."""
        if self.is_staff or self.is_player(player_id):
            return
        if self.is_client and scope is not None and self.has_scope(scope):
            return
        raise PermissionDenied("You may only access your own data.")
