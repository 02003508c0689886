"""Facts the identity domain refuses with; each maps to one HTTP status and error code."""

from __future__ import annotations

from shared.domain.exceptions import (
    Conflict,
    DependencyUnavailable,
    DomainError,
    NotFound,
    PermissionDenied,
)


class EmailAlreadyRegistered(Conflict):
    default_message = "An account with this email already exists."


class InvalidEmail(DomainError):
    default_message = "Use an ASCII address with a dotted domain (punycode for other scripts)."


class InvalidName(DomainError):
    default_message = "A name may not contain control or bidirectional formatting characters."


class UserNotFound(NotFound):
    default_message = "The user was not found."


class InvalidCredentials(DomainError):
    default_message = "Invalid email or password."


class AccountInactive(DomainError):
    default_message = "The account is not active."


class InvalidResetCode(DomainError):
    """Unknown address, wrong, used or expired code: one answer, so none can be told apart."""

    default_message = "The email or the reset code is not right, or the code has expired."


class ResetNotAllowed(PermissionDenied):
    default_message = (
        "Staff reset players' passwords, administrators players' and staff's; an "
        "administrator's password, or your own, is changed by its owner."
    )


class CurrentPasswordWrong(DomainError):
    default_message = "The current password is not right."


class TooManyAttempts(DomainError):
    default_message = "Too many failed attempts. Please try again later."

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.headers = {"Retry-After": str(self.retry_after_seconds)}


class InvalidRefreshToken(DomainError):
    default_message = "The session has expired. Please log in again."


class RefreshTokenReused(InvalidRefreshToken):
    """An already rotated refresh token was presented: its whole family is revoked."""


class CannotChangeOwnStatus(PermissionDenied):
    default_message = "Administrators cannot deactivate their own account."


class ClientNotFound(NotFound):
    default_message = "The client was not found."


class UnknownScope(DomainError):
    default_message = "One or more scopes are not known."


class InvalidClientId(DomainError):
    default_message = "A client id must not have the form of a user id (a UUID)."


class InvalidEventSources(DomainError):
    default_message = "The client's event sources do not fit its scopes."


class InvalidPassword(DomainError):
    default_message = "The password does not meet the policy."


class WeakClientSecret(DomainError):
    default_message = "The client secret is not long or random enough."


class ClientAlreadyExists(Conflict):
    default_message = "A client with this id already exists."


class SigningKeyUnreadable(DependencyUnavailable):
    """The active signing key cannot be decrypted with this process's key-encryption secret:
    no token can be signed here, and a rotation made here could leave the other processes a
    key they cannot read."""

    default_message = "Tokens cannot be issued at the moment. Please retry later."

    def __init__(self, kid: str, message: str | None = None) -> None:
        super().__init__(message)
        self.kid = kid
