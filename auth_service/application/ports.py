"""Ports the identity use cases need; adapters implement them (argon2, Redis, RSA keys)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auth_service.domain.model import SigningKey
from auth_service.domain.ports import (
    PartnerClientRepository,
    SigningKeyRepository,
    UserRepository,
)
from shared.application.unit_of_work import UnitOfWork


class AuthUnitOfWork(UnitOfWork):
    users: UserRepository
    clients: PartnerClientRepository
    signing_keys: SigningKeyRepository


class PasswordHasher(ABC):
    @abstractmethod
    def hash(self, password: str) -> str: ...

    @abstractmethod
    def verify(self, password_hash: str, password: str) -> bool: ...

    @abstractmethod
    def needs_rehash(self, password_hash: str) -> bool: ...

    @abstractmethod
    def burn(self, password: str) -> None:
        """Spend the time of a verification without an account, so the response time does not
        reveal which emails are registered."""


class SecretHasher(ABC):
    """Hashes high-entropy client secrets (a fast hash is enough for 256 random bits)."""

    @abstractmethod
    def hash(self, secret: str) -> str: ...

    @abstractmethod
    def verify(self, secret_hash: str, secret: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class NewSigningKey:
    kid: str
    private_key_pem: bytes
    public_jwk: dict[str, str]


class SigningKeyFactory(ABC):
    @abstractmethod
    def generate(self) -> NewSigningKey:
        """A fresh RS256 key pair, the private half encrypted for storage."""

    @abstractmethod
    def can_open(self, private_key_pem: bytes) -> bool:
        """Whether this process's key-encryption secret decrypts a stored private key."""


class AccessTokenIssuer(ABC):
    @abstractmethod
    def issue(
        self,
        subject: str,
        claims: Mapping[str, Any],
        lifetime_seconds: int,
        not_before: int | None = None,
    ) -> IssuedToken:
        """Sign an access token with the active key, issued now — or at ``not_before`` (epoch
        seconds, at most a second ahead) when the account's tokens of this second were just
        revoked (:func:`first_unrevoked_second`)."""

    @abstractmethod
    def decode(self, token: str) -> Mapping[str, Any] | None:
        """Verify one of our own tokens (signature, issuer, audience, expiry); None if invalid."""

    @abstractmethod
    def invalidate_keys(self) -> None:
        """Forget cached keys (after a rotation in this process)."""

    @abstractmethod
    def published(self) -> Sequence[SigningKey]:
        """Keys whose public half is published in the JWKS."""


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh token stood for, returned when it is rotated."""

    user_id: str
    family_id: str


class RefreshTokenStore(ABC):
    @abstractmethod
    def issue(self, user_id: str, family_id: str | None = None) -> str:
        """A new opaque refresh token, in a new family unless ``family_id`` is given."""

    @abstractmethod
    def holder(self, token: str) -> str | None:
        """The user ``token`` was issued to, if it is known; changes nothing."""

    @abstractmethod
    def consume(self, token: str) -> RefreshGrant:
        """Atomically mark ``token`` used. Raises InvalidRefreshToken when unknown or revoked,
        RefreshTokenReused (after revoking its family) when it was already used."""

    @abstractmethod
    def revoke(self, token: str) -> None:
        """Revoke the token's family (logout)."""

    @abstractmethod
    def revoke_user(self, user_id: str) -> None:
        """Revoke every family of the user (deactivation)."""


class PasswordResetCodes(ABC):
    """One-time codes for a password reset handed over at the desk."""

    @abstractmethod
    def store(self, user_id: str, code: str) -> None:
        """Make ``code`` the user's reset code (replacing an earlier one) for the configured
        time."""

    @abstractmethod
    def redeem(self, user_id: str, code: str) -> bool:
        """True once, when ``code`` is the user's current code, which is then gone. A wrong
        code leaves the right one in place (a guess must not cancel the owner's code)."""

    @abstractmethod
    def discard(self, user_id: str) -> None:
        """Cancel the user's code, if any (their password changed, or they signed out
        everywhere: a code someone else saw must not outlive that)."""


class LoginThrottle(ABC):
    @abstractmethod
    def check(self, email: str, address: str | None) -> None:
        """Raise TooManyAttempts when the account or the address is locked out; otherwise
        count the attempt as a failure until :meth:`record_success` takes it back (concurrent
        attempts must not all pass a check made before any of them failed). Without an
        address, the account alone is checked and counted."""

    @abstractmethod
    def record_failure(self, email: str, address: str | None) -> None:
        """The attempt failed (it is already counted): lock out what reached its limit."""

    @abstractmethod
    def record_unknown(self, email: str, address: str | None) -> None:
        """No account has ``email``: the attempt stays counted against the email, as any
        failure (a lockout must not tell which emails have accounts), and is taken back from
        the address, whose limit is about passwords tried on accounts (ADR 0023)."""

    @abstractmethod
    def record_success(self, email: str, address: str | None) -> None:
        """The password was right: clear the account's failures, uncount the attempt."""

    @abstractmethod
    def unlock(self, email: str) -> None:
        """Lift the account's lockout and forget its failures (staff saw its owner); the
        lockouts of client addresses stay."""


class RevokedTokens(ABC):
    """Access tokens revoked before their expiry (RFC 7009), as seen by introspection."""

    @abstractmethod
    def revoke(self, token_id: str, ttl_seconds: int) -> None: ...

    @abstractmethod
    def is_revoked(self, token_id: str) -> bool: ...
