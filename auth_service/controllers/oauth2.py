"""OAuth2 authorization server endpoints (Authlib): client credentials token, introspection
(RFC 7662) and revocation (RFC 7009). Errors follow RFC 6749 §5.2, not the API envelope."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InsecureTransportError,
    InvalidRequestError,
    InvalidScopeError,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from dependency_injector.wiring import Provide, inject
from flask import Flask, Response, request
from werkzeug.datastructures import ImmutableMultiDict

from auth_service.application.services import ClientService, ClientTokenService
from auth_service.container import Container
from auth_service.domain.model import KNOWN_SCOPES, PartnerClient
from shared.web.blueprint import Blueprint

blp = Blueprint(
    "oauth2", __name__, url_prefix="/oauth2", description="OAuth2 for partner and internal clients"
)

AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
_FORM = "application/x-www-form-urlencoded"


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of a :class:`PartnerClient`."""

    def __init__(self, client: PartnerClient, service: ClientService) -> None:
        self.client = client
        self.client_id = client.client_id
        self._service = service

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        granted = self.client.grantable(frozenset(scope_to_list(scope) or ()))
        return " ".join(sorted(granted or ()))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self._service.authenticate(self.client, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class UnknownClient(OAuthClient):
    """Stands for a client id that does not exist or is disabled: its secret never matches, so
    the caller gets the same answer as for a wrong secret and cannot probe which ids exist."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def check_client_secret(self, client_secret: str) -> bool:
        return False


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        requested = frozenset(scope_to_list(self.request.payload.scope) or ())
        if self.request.client.client.grantable(requested) is None:
            raise InvalidScopeError(description="The client may not request these scopes.")


class IssuedTokenView:
    """The claims of one of our access tokens, as Authlib's endpoints want to see them."""

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self.claims = claims

    def is_expired(self) -> bool:
        return int(self.claims.get("exp", 0)) <= int(time.time())

    def is_revoked(self) -> bool:
        return False  # revoked tokens are filtered out before they get here

    def get_client_id(self) -> str | None:
        return self.claims.get("client_id")


def _owned_by(token: IssuedTokenView, client: OAuthClient) -> bool:
    return token.get_client_id() == client.client_id


class _AnyTokenTypeHint:
    """``token_type_hint`` is only a hint (RFC 7009 §2.1, RFC 7662 §2.1): the token is looked
    up whatever the hint says, instead of refusing a hint other than ``access_token`` as
    Authlib does (with a 401)."""

    def check_params(self, request: Any, client: OAuthClient) -> None:
        if "token" not in request.form:
            raise InvalidRequestError("The token parameter is required.")


class TokenIntrospection(_AnyTokenTypeHint, IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, server: Any, tokens: ClientTokenService) -> None:
        super().__init__(server)
        self._tokens = tokens

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        claims = self._tokens.inspect(token_string[:4096])
        return IssuedTokenView(claims) if claims else None

    def check_permission(self, token: IssuedTokenView, client: OAuthClient, request: Any) -> bool:
        # A client may introspect the tokens issued to it.
        return _owned_by(token, client)

    def introspect_token(self, token: IssuedTokenView) -> dict[str, Any]:
        c = token.claims
        payload = {
            "active": True,
            "client_id": c.get("client_id"),
            "scope": c.get("scope"),
            "sub": c.get("sub"),
            "aud": c.get("aud"),
            "iss": c.get("iss"),
            "exp": c.get("exp"),
            "iat": c.get("iat"),
            "jti": c.get("jti"),
            "event_sources": c.get("event_sources"),
            "token_type": "Bearer",
        }
        return {k: v for k, v in payload.items() if v is not None}


class TokenRevocation(_AnyTokenTypeHint, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def __init__(self, server: Any, tokens: ClientTokenService) -> None:
        super().__init__(server)
        self._tokens = tokens

    def authenticate_token(self, request: Any, client: OAuthClient) -> Any:
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: an unknown token, or one of another client, is answered 200 all the same.
        return token if token is not None and _owned_by(token, client) else None

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        claims = self._tokens.inspect(token_string[:4096])
        return IssuedTokenView(claims) if claims else None

    def revoke_token(self, token: IssuedTokenView, request: Any) -> None:
        self._tokens.revoke(token.claims)


@inject
def init_authorization_server(
    app: Flask,
    clients: Any = Provide[Container.client_service.provider],
    tokens: Any = Provide[Container.client_token_service.provider],
) -> AuthorizationServer:
    """Wire Authlib to our client registry and token issuer."""

    def query_client(client_id: str) -> OAuthClient:
        if "\x00" in client_id:
            # Never a registered id (PostgreSQL text cannot even hold it): unknown, not a 500.
            return UnknownClient(client_id[:64].replace("\x00", ""))
        service: ClientService = clients()
        client = service.find_for_authentication(client_id[:64])
        if client is None or not client.is_active:
            return UnknownClient(client_id[:64])
        return OAuthClient(client, service)

    def generate_token(
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        service: ClientTokenService = tokens()
        granted = client.client.grantable(frozenset(scope_to_list(scope) or ())) or frozenset()
        issued = service.issue(client.client, granted)
        return {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": " ".join(sorted(granted)),
        }

    app.config["OAUTH2_SCOPES_SUPPORTED"] = sorted(KNOWN_SCOPES)
    server = AuthorizationServer(app, query_client=query_client, save_token=lambda *_: None)
    server.register_token_generator("default", generate_token)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(TokenIntrospection(server, tokens()))
    server.register_endpoint(TokenRevocation(server, tokens()))
    app.extensions["oauth2_server"] = server
    return server


def _server() -> AuthorizationServer:
    from flask import current_app

    return current_app.extensions["oauth2_server"]


_JSON = "application/json"
#: RFC 6749 §5.2: the OAuth endpoints answer errors in this shape, not the error envelope
_OAUTH_ERROR = {
    _JSON: {
        "schema": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "example": "invalid_request"},
                "error_description": {"type": "string"},
            },
        }
    }
}


def _oauth_errors(**statuses: str) -> dict[str, Any]:
    return {
        status.lstrip("_"): {"description": what, "content": _OAUTH_ERROR}
        for status, what in statuses.items()
    }


_TOKEN_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string", "example": "rewards.write rewards.read"},
                        "client_id": {"type": "string", "description": "client_secret_post"},
                        "client_secret": {"type": "string", "description": "client_secret_post"},
                    },
                }
            }
        },
    },
    "responses": {
        "200": {
            "description": "Access token (RFC 6749 §5.1)",
            "content": {
                _JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["access_token", "token_type", "expires_in"],
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"type": "string", "example": "Bearer"},
                            "expires_in": {"type": "integer", "example": 900},
                            "scope": {"type": "string"},
                        },
                    }
                }
            },
        },
        **_oauth_errors(
            _400="invalid_request, invalid_scope, unsupported_grant_type",
            _401="invalid_client",
        ),
    },
    "security": [{"clientBasic": []}, {}],
}


def _token_param_doc(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "requestBody": {
            "required": True,
            "content": {
                _FORM: {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": {"type": "string"},
                            "token_type_hint": {
                                "type": "string",
                                "description": "Optional; the token is looked up whatever it says",
                            },
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "OK (RFC 7662 §2.2 / RFC 7009 §2.2)"},
            **_oauth_errors(_400="invalid_request", _401="invalid_client"),
        },
        "security": [{"clientBasic": []}, {}],
    }


def _oauth_error(status: int, error: str, description: str, **headers: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={**headers, "Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def _refused_before_authlib() -> Response | None:
    """What Authlib would let through or turn into a 500, answered as RFC 6749 says.

    A parameter sent more than once is refused (§3.1, §3.2: invalid_request, 400); Authlib
    would take one of the values. So are credentials in both the Basic header and the body
    (§2.3: one authentication method per request); Authlib would take the header's. Basic
    credentials that are not base64 of UTF-8 "id:secret" are invalid_client (§5.2, 401);
    Authlib fails on them."""
    return _misplaced_parameters() or _conflicting_credentials()


def _misplaced_parameters() -> Response | None:
    if request.args:
        # §4.4.2 and §3.2: in the body. Authlib merges the URL's in (and lets them win), and
        # a URL ends up in logs.
        return _oauth_error(
            400, "invalid_request", "Send the parameters in the request body, not the URL."
        )
    if request.method == "POST" and request.mimetype != _FORM:
        # §4.4.2, RFC 7662 §2.1, RFC 7009 §2.1: form-encoded. Authlib reads no grant_type
        # from a JSON body and answers unsupported_grant_type, which sends a partner the
        # wrong way.
        return _oauth_error(
            400,
            "invalid_request",
            f"Send the parameters form-encoded ({_FORM}), not as {request.mimetype or 'no type'}.",
        )
    repeated = sorted(name for name, values in request.form.lists() if len(values) > 1)
    if repeated:
        # Before empty values are dropped: "client_secret=S&client_secret=" is sent twice.
        return _oauth_error(
            400, "invalid_request", f"Parameter {repeated[0]!r} is included more than once."
        )
    _drop_empty_parameters()
    return None


def _drop_empty_parameters() -> None:
    """§3.1: "Parameters sent without a value MUST be treated as if they were omitted" — a
    form (Swagger UI's among them) sending ``client_id=&client_secret=`` beside the Basic
    header authenticates with the header. Authlib reads ``request.form`` and ``values``."""
    form = request.form
    if all(value for _, value in form.items(multi=True)):
        return
    kept = ImmutableMultiDict([(k, v) for k, v in form.items(multi=True) if v])
    request.__dict__["form"] = kept  # werkzeug caches both in the instance dict
    request.__dict__.pop("values", None)


def _conflicting_credentials() -> Response | None:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        decoded = ""
    if ":" in decoded:
        named = request.form.get("client_id")
        if "client_secret" in request.form or (
            named is not None and named != unquote(decoded.split(":", 1)[0])
        ):
            return _oauth_error(
                400,
                "invalid_request",
                "Authenticate with the Authorization header or with client_id and "
                "client_secret in the body, not both.",
            )
        return None
    return _oauth_error(
        401,
        "invalid_client",
        "Malformed client credentials.",
        **{"WWW-Authenticate": 'Basic error="invalid_client"'},
    )


def _answered(respond: Callable[[], Response]) -> Response:
    """The endpoint's answer; a request authlib refuses for its transport (plain HTTP from an
    address that is not loopback, where AUTHLIB_INSECURE_TRANSPORT is not set: the deployments
    set it, as TLS ends at their gateway) is the client's error, not the server's."""
    try:
        return _refused_before_authlib() or respond()
    except InsecureTransportError:
        return _oauth_error(400, "invalid_request", "OAuth 2 requests must use HTTPS.")


@blp.route("/token", methods=["POST"])
@blp.doc(summary="Client credentials grant (RFC 6749 §4.4)", **_TOKEN_DOC)
def token() -> Response:
    """Issue an access token to a client authenticated by client_secret_basic or _post."""
    return _answered(lambda: _without_grant_type() or _server().create_token_response())


def _without_grant_type() -> Response | None:
    """§5.2: a required parameter missing is invalid_request. Authlib answers
    unsupported_grant_type, without a description, for a grant type it was never given (left
    out, or empty: §3.1, omitted)."""
    if "grant_type" in request.form:
        return None
    return _oauth_error(
        400, "invalid_request", "The grant_type parameter is missing (client_credentials)."
    )


@blp.route("/introspect", methods=["POST"])
@blp.doc(**_token_param_doc("Token introspection (RFC 7662)"))
def introspect() -> Response:
    """Whether a token is active, and its claims (for the client it was issued to)."""
    return _answered(lambda: _server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME))


@blp.route("/revoke", methods=["POST"])
@blp.doc(**_token_param_doc("Token revocation (RFC 7009)"))
def revoke() -> Response:
    """Revoke an access token before it expires."""
    return _answered(lambda: _server().create_endpoint_response(TokenRevocation.ENDPOINT_NAME))
