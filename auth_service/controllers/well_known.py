"""Published metadata: the JWKS and the authorization server metadata (RFC 8414)."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import current_app, jsonify
from flask.typing import ResponseReturnValue

from auth_service.application.services import KeyService
from auth_service.container import Container
from auth_service.domain.model import KNOWN_SCOPES
from shared.web.blueprint import Blueprint

blp = Blueprint("well_known", __name__, url_prefix="/.well-known", description="Discovery")


def _json_object(description: str, required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "additionalProperties": True}
    return {
        "responses": {
            "200": {"description": description, "content": {"application/json": {"schema": schema}}}
        }
    }


@blp.route("/jwks.json", methods=["GET"])
@blp.doc(**_json_object("JSON Web Key Set (RFC 7517 §5)", ["keys"]))
@inject
def jwks(service: KeyService = Provide[Container.key_service]) -> ResponseReturnValue:
    """Public keys that verify our access tokens (the active key and the retiring ones)."""
    response = jsonify(keys=[key.public_jwk for key in service.published()])
    # Resource servers cache this; a rotation is still seen at once through an unknown kid.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@blp.route("/oauth-authorization-server", methods=["GET"])
@blp.doc(
    **_json_object(
        "Authorization server metadata (RFC 8414 §2)",
        ["issuer", "jwks_uri", "response_types_supported"],
    )
)
def metadata() -> ResponseReturnValue:
    """Authorization server metadata (RFC 8414)."""
    issuer: str = current_app.config["OAUTH_ISSUER"]
    base = issuer.rstrip("/")
    body: dict[str, Any] = {
        "issuer": issuer,
        "token_endpoint": f"{base}/oauth2/token",
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        # Required by RFC 8414, but response types belong to the authorization endpoint, and
        # there is none (client credentials only): no response type is supported.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "scopes_supported": sorted(KNOWN_SCOPES),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
