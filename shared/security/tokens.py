"""Access-token verification without a web framework (gRPC servers, consumers, scripts).

The same rules as the Flask resource server: RS256 only, the key chosen by ``kid`` from the
resolver (an unknown ``kid`` makes the resolver refetch the JWKS), issuer, audience, expiry and
not-before checked with a small leeway. A verified token becomes a :class:`Principal`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from shared.application.ports import InactiveUsers
from shared.domain.principal import Principal, Role
from shared.errors import CommonErrorCode
from shared.security.jwks import KeyResolver
from shared.security.verified_tokens import VerifiedTokenCache

MAX_TOKEN_LENGTH = 8192
ALGORITHM = "RS256"
REVOKED_MESSAGE = "The access token was revoked; sign in again."


class TokenRejected(Exception):
    """The token cannot be accepted; ``message`` is safe to show to the caller."""

    message = "The access token is not valid."
    code = CommonErrorCode.TOKEN_INVALID

    def __init__(self, message: str | None = None) -> None:
        if message:
            self.message = message
        super().__init__(self.message)


class TokenMissing(TokenRejected):
    message = "An access token is required."
    code = CommonErrorCode.UNAUTHENTICATED


class TokenExpired(TokenRejected):
    message = "The access token has expired."
    code = CommonErrorCode.TOKEN_EXPIRED


class AccountInactive(TokenRejected):
    message = "The account is not active."
    code = CommonErrorCode.ACCOUNT_INACTIVE


class TokenRevoked(TokenRejected):
    """Issued before the account's tokens were revoked (a password change, a new secret)."""

    message = REVOKED_MESSAGE
    code = CommonErrorCode.TOKEN_REVOKED


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """The caller a verified token stands for (a user has a role; a client has none)."""
    role = claims.get("role")
    scope = claims.get("scope") or ""
    sources = claims.get("event_sources")
    return Principal(
        subject=str(claims["sub"]),
        role=Role(role) if role in {r.value for r in Role} else None,
        scopes=frozenset(str(scope).split()),
        client_id=claims.get("client_id"),
        token_id=claims.get("jti"),
        event_sources=None if sources is None else _strings(sources),
        issued_at=issued_at(claims),
    )


def issued_at(claims: Mapping[str, Any]) -> int | None:
    """The token's ``iat`` in whole seconds (None when it has none that is a number)."""
    value = claims.get("iat")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    return None


def has_numeric_times(claims: Mapping[str, Any]) -> bool:
    """Whether ``exp`` and ``iat`` are numbers, and ``nbf`` too when present.

    PyJWT checks them with ``int()``, which also takes a numeric string or a boolean; a token
    with such an ``iat`` would have no issue time here (:func:`issued_at`), and no revocation
    by time could refuse it (ADR 0021). Our tokens always carry numbers.
    """
    if not all(_is_time(claims.get(name)) for name in ("exp", "iat")):
        return False
    return "nbf" not in claims or _is_time(claims["nbf"])


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _strings(values: object) -> frozenset[str]:
    # Anything but a list of strings limits to nothing rather than to everything.
    if not isinstance(values, list):
        return frozenset()
    return frozenset(v for v in values if isinstance(v, str))


class AccessTokenVerifier:
    """Verifies access tokens issued by our authorization server.

    A service called many times a second with the same token (an internal client) may keep
    verified tokens for a short while (``cache_seconds``, never past their expiry): the
    signature is then checked once per token and period instead of on every call.
    """

    def __init__(
        self,
        key_resolver: KeyResolver,
        issuer: str,
        audience: str,
        leeway_seconds: int = 5,
        inactive_users: InactiveUsers | None = None,
        cache_size: int = 0,
        cache_seconds: float = 30.0,
    ) -> None:
        self._keys = key_resolver
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._inactive_users = inactive_users
        self._verified: VerifiedTokenCache[Principal] = VerifiedTokenCache(
            cache_size, cache_seconds
        )

    def verify(self, token: str | None) -> Principal:
        """The principal of a valid ``token``; raises :class:`TokenRejected` otherwise."""
        if not token:
            raise TokenMissing()
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenRejected()
        principal = self._verified.get(token)
        if principal is None:
            principal, expires_at = self._decode(token)
            self._verified.put(token, principal, expires_at)
        # Users deactivated and clients disabled are refused within seconds, whatever their
        # tokens say, and so are tokens issued before a revocation (in-memory lookups, ADR 0015
        # and 0021).
        if self._inactive_users is not None:
            refusal = self._inactive_users.refusal(principal.account, principal.issued_at)
            if refusal is CommonErrorCode.ACCOUNT_INACTIVE:
                raise AccountInactive()
            if refusal is CommonErrorCode.TOKEN_REVOKED:
                raise TokenRevoked()
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected() from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or len(kid) > 128:
            raise TokenRejected()
        key = self._keys.public_key(kid)
        if key is None:
            raise TokenRejected()
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected() from exc
        # As the Flask resource server: times that are numbers, and never a refresh token.
        if not has_numeric_times(claims) or claims.get("type") == "refresh":
            raise TokenRejected()
        return principal_from_claims(claims), float(claims["exp"])


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
