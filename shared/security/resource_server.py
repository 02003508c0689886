"""flask-jwt-extended wired as an OAuth2 resource server: RS256 only, keys from a resolver,
issuer and audience checked, inactive users and revoked tokens refused, every failure in the
error envelope.

Verified claims are remembered per token for a short while (``security.token_cache_seconds``,
never past the token's expiry; ADR 0017): flask-jwt-extended parses a token four times and
checks its RSA signature on every request, which was a fifth of a web process's CPU on a busy
endpoint. The account status (inactive users) and the token type are still checked on every
request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import Flask, g, request
from flask_jwt_extended import JWTManager, get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTDecodeError

from shared.application.ports import InactiveUsers
from shared.domain.exceptions import PermissionDenied
from shared.domain.principal import Principal, Role, account_key
from shared.errors import CommonErrorCode
from shared.security.jwks import KeyResolver
from shared.security.tokens import (
    REVOKED_MESSAGE,
    has_numeric_times,
    issued_at,
    principal_from_claims,
)
from shared.security.verified_tokens import VerifiedTokenCache
from shared.web.errors import error_response

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TOKEN_CACHE_SIZE = 4096
DEFAULT_TOKEN_CACHE_SECONDS = 30.0


class CachingJWTManager(JWTManager):
    """A JWTManager that checks each token's signature and claims once per period."""

    def __init__(self, app: Flask, verified: VerifiedTokenCache[dict[str, Any]]) -> None:
        self._verified = verified
        super().__init__(app)

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value or allow_expired:
            return super()._decode_jwt_from_config(encoded_token, csrf_value, allow_expired)
        claims = self._verified.get(encoded_token)
        if claims is None:
            claims = super()._decode_jwt_from_config(encoded_token)
            # Our tokens always say, in numbers, when they were issued and when they expire:
            # one without either would never expire or could not be revoked by time (ADR 0021).
            if not has_numeric_times(claims):
                raise JWTDecodeError("the token lacks a numeric exp or iat")
            self._verified.put(encoded_token, dict(claims), float(claims["exp"]))
            return claims
        return dict(claims)


def _refusal(client: bool, roles: frozenset[Role], scopes: frozenset[str]) -> PermissionDenied:
    """403 naming what would have been let in, so a partner knows which scope to ask for."""
    refused = PermissionDenied("You are not allowed to do this.")
    if client and scopes:
        refused.message = (
            f"This needs a client token with one of the scopes: {' '.join(sorted(scopes))}."
        )
        refused.details = {"requiredScopes": sorted(scopes)}
    elif not client and roles:
        refused.details = {"requiredRoles": sorted(r.value for r in roles)}
    return refused


def configure_resource_server(
    app: Flask,
    key_resolver: KeyResolver,
    security: Mapping[str, Any],
    inactive_users: InactiveUsers | None = None,
    leeway_seconds: int = 5,
) -> JWTManager:
    """Make ``@authenticated`` work on ``app`` with tokens from our authorization server.

    ``security`` is the service's ``security`` settings: ``issuer``, ``audience`` and,
    optionally, ``token_cache_size`` (0 turns the memory of verified tokens off) and
    ``token_cache_seconds``.
    """
    issuer = str(security["issuer"])
    audience = str(security["audience"])
    verified: VerifiedTokenCache[dict[str, Any]] = VerifiedTokenCache(
        int(security.get("token_cache_size", DEFAULT_TOKEN_CACHE_SIZE)),
        float(security.get("token_cache_seconds", DEFAULT_TOKEN_CACHE_SECONDS)),
    )
    app.config.update(
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ALGORITHM="RS256",
        JWT_DECODE_ALGORITHMS=["RS256"],
        JWT_DECODE_ISSUER=issuer,
        JWT_DECODE_AUDIENCE=audience,
        JWT_DECODE_LEEWAY=leeway_seconds,
        JWT_IDENTITY_CLAIM="sub",
        JWT_ERROR_MESSAGE_KEY="message",
        # Verification keys come from the resolver; this only satisfies the library's checks.
        JWT_PUBLIC_KEY="unused",
    )
    jwt = CachingJWTManager(app, verified)

    @jwt.decode_key_loader
    def _key(headers: Mapping[str, Any], _payload: Mapping[str, Any]) -> Any:
        kid = headers.get("kid")
        key = key_resolver.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise JWTDecodeError("unknown signing key")
        return key

    @jwt.token_in_blocklist_loader
    def _blocked(_headers: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
        # A deactivated user or a disabled client (a token without a role is a client's), or
        # a token issued before the account's tokens were revoked (ADR 0021).
        if inactive_users is None:
            return False
        account = account_key(str(payload.get("sub")), client="role" not in payload)
        g.token_refusal = inactive_users.refusal(account, issued_at(payload))
        return g.token_refusal is not None

    def unauthorized(reason: str) -> Any:
        return error_response(401, CommonErrorCode.UNAUTHENTICATED, reason, bearer=True)

    jwt.unauthorized_loader(lambda _msg: unauthorized("An access token is required."))
    jwt.invalid_token_loader(
        lambda _msg: error_response(
            401, CommonErrorCode.TOKEN_INVALID, "The access token is not valid.", bearer=True
        )
    )
    jwt.expired_token_loader(
        lambda _h, _p: error_response(
            401, CommonErrorCode.TOKEN_EXPIRED, "The access token has expired.", bearer=True
        )
    )

    def refused(_headers: Mapping[str, Any], _payload: Mapping[str, Any]) -> Any:
        if g.get("token_refusal") is CommonErrorCode.TOKEN_REVOKED:
            return error_response(401, CommonErrorCode.TOKEN_REVOKED, REVOKED_MESSAGE, bearer=True)
        return error_response(
            401, CommonErrorCode.ACCOUNT_INACTIVE, "The account is not active.", bearer=True
        )

    jwt.revoked_token_loader(refused)
    jwt.needs_fresh_token_loader(lambda _h, _p: unauthorized("A fresh token is required."))
    jwt.user_lookup_error_loader(lambda _h, _p: unauthorized("Unknown subject."))
    return jwt


def current_principal() -> Principal:
    """The caller of the current request (after ``@authenticated``)."""
    principal = g.get("principal")
    if principal is None:
        principal = principal_from_claims(get_jwt())
        g.principal = principal
    return principal  # type: ignore[no-any-return]


def verify_access_token(locations: list[str] | None = None) -> None:
    """Check the request's access token (401 in the error envelope when it fails).

    The scheme is case-insensitive (RFC 9110 §11.1); flask-jwt-extended only knows "Bearer",
    so any other spelling of it is rewritten first."""
    value = request.environ.get("HTTP_AUTHORIZATION")
    if isinstance(value, str):
        scheme, space, token = value.lstrip().partition(" ")
        if space and scheme != "Bearer" and scheme.lower() == "bearer":
            request.environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    verify_jwt_in_request(locations=locations)


def authenticated(
    roles: Iterable[Role] | None = None,
    scopes: Iterable[str] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Require a valid access token; with ``roles`` and/or ``scopes``, require one of them.

    A user token passes when its role is in ``roles``; a client token passes when it carries
    one of ``scopes``. Neither given: any valid token passes.
    """
    allowed_roles = frozenset(roles or ())
    allowed_scopes = frozenset(scopes or ())

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            verify_access_token()
            principal = current_principal()
            if allowed_roles or allowed_scopes:
                role_ok = principal.role is not None and principal.role in allowed_roles
                scope_ok = principal.is_client and bool(principal.scopes & allowed_scopes)
                if not (role_ok or scope_ok):
                    raise _refusal(principal.is_client, allowed_roles, allowed_scopes)
            return view(*args, **kwargs)

        return wrapper

    return decorator
