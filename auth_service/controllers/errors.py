"""Identity error codes and the one mapping of domain exceptions to HTTP statuses."""

from __future__ import annotations

from auth_service.domain import exceptions as e
from shared.errors import AppErrorCode
from shared.web.errors import ErrorMap, ErrorSpec


class AuthErrorCode(AppErrorCode):
    EMAIL_ALREADY_REGISTERED = "AUTH_EMAIL_ALREADY_REGISTERED"
    INVALID_EMAIL = "AUTH_INVALID_EMAIL"
    INVALID_NAME = "AUTH_INVALID_NAME"
    INVALID_CREDENTIALS = "AUTH_INVALID_CREDENTIALS"
    CURRENT_PASSWORD_WRONG = "AUTH_CURRENT_PASSWORD_WRONG"
    INVALID_RESET_CODE = "AUTH_INVALID_RESET_CODE"
    RESET_NOT_ALLOWED = "AUTH_RESET_NOT_ALLOWED"
    ACCOUNT_INACTIVE = "AUTH_ACCOUNT_INACTIVE"
    TOO_MANY_ATTEMPTS = "AUTH_TOO_MANY_ATTEMPTS"
    INVALID_REFRESH_TOKEN = "AUTH_INVALID_REFRESH_TOKEN"
    REFRESH_TOKEN_REUSED = "AUTH_REFRESH_TOKEN_REUSED"
    USER_NOT_FOUND = "AUTH_USER_NOT_FOUND"
    CANNOT_CHANGE_OWN_STATUS = "AUTH_CANNOT_CHANGE_OWN_STATUS"
    CLIENT_NOT_FOUND = "AUTH_CLIENT_NOT_FOUND"
    CLIENT_ALREADY_EXISTS = "AUTH_CLIENT_ALREADY_EXISTS"
    UNKNOWN_SCOPE = "AUTH_UNKNOWN_SCOPE"
    INVALID_EVENT_SOURCES = "AUTH_INVALID_EVENT_SOURCES"
    INVALID_CLIENT_ID = "AUTH_INVALID_CLIENT_ID"
    WEAK_PASSWORD = "AUTH_WEAK_PASSWORD"
    WEAK_CLIENT_SECRET = "AUTH_WEAK_CLIENT_SECRET"
    SIGNING_KEY_UNREADABLE = "AUTH_SIGNING_KEY_UNREADABLE"


ERRORS: ErrorMap = {
    e.EmailAlreadyRegistered: ErrorSpec(409, AuthErrorCode.EMAIL_ALREADY_REGISTERED),
    e.InvalidEmail: ErrorSpec(422, AuthErrorCode.INVALID_EMAIL),
    e.InvalidName: ErrorSpec(422, AuthErrorCode.INVALID_NAME),
    e.InvalidCredentials: ErrorSpec(401, AuthErrorCode.INVALID_CREDENTIALS),
    # 403, not 401: the access token is good, and a client must not take it for a logout.
    e.CurrentPasswordWrong: ErrorSpec(403, AuthErrorCode.CURRENT_PASSWORD_WRONG),
    e.InvalidResetCode: ErrorSpec(401, AuthErrorCode.INVALID_RESET_CODE),
    e.ResetNotAllowed: ErrorSpec(403, AuthErrorCode.RESET_NOT_ALLOWED),
    e.AccountInactive: ErrorSpec(403, AuthErrorCode.ACCOUNT_INACTIVE),
    e.TooManyAttempts: ErrorSpec(429, AuthErrorCode.TOO_MANY_ATTEMPTS),
    e.RefreshTokenReused: ErrorSpec(401, AuthErrorCode.REFRESH_TOKEN_REUSED),
    e.InvalidRefreshToken: ErrorSpec(401, AuthErrorCode.INVALID_REFRESH_TOKEN),
    e.UserNotFound: ErrorSpec(404, AuthErrorCode.USER_NOT_FOUND),
    e.CannotChangeOwnStatus: ErrorSpec(403, AuthErrorCode.CANNOT_CHANGE_OWN_STATUS),
    e.ClientNotFound: ErrorSpec(404, AuthErrorCode.CLIENT_NOT_FOUND),
    e.ClientAlreadyExists: ErrorSpec(409, AuthErrorCode.CLIENT_ALREADY_EXISTS),
    e.UnknownScope: ErrorSpec(422, AuthErrorCode.UNKNOWN_SCOPE),
    e.InvalidEventSources: ErrorSpec(422, AuthErrorCode.INVALID_EVENT_SOURCES),
    e.InvalidClientId: ErrorSpec(422, AuthErrorCode.INVALID_CLIENT_ID),
    e.InvalidPassword: ErrorSpec(422, AuthErrorCode.WEAK_PASSWORD),
    e.WeakClientSecret: ErrorSpec(422, AuthErrorCode.WEAK_CLIENT_SECRET),
    e.SigningKeyUnreadable: ErrorSpec(503, AuthErrorCode.SIGNING_KEY_UNREADABLE),
}
