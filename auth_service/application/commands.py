"""Commands the web edge hands to the identity use cases."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.principal import Role


@dataclass(frozen=True, slots=True)
class RegisterUser:
    email: str
    password: str
    first_name: str
    last_name: str
    role: Role = Role.PLAYER


@dataclass(frozen=True, slots=True)
class LogIn:
    email: str
    password: str
    address: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePassword:
    user_id: str
    current_password: str
    new_password: str


@dataclass(frozen=True, slots=True)
class ResetPassword:
    email: str
    reset_code: str
    new_password: str


@dataclass(frozen=True, slots=True)
class CreateClient:
    name: str
    scopes: frozenset[str]
    client_id: str | None = None
    event_sources: frozenset[str] = frozenset()
    #: a secret the deployment keeps in its secret store (see ClientService.provision);
    #: None generates one
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateClient:
    """What to change on a client; ``None`` keeps the current value."""

    name: str | None = None
    scopes: frozenset[str] | None = None
    event_sources: frozenset[str] | None = None
