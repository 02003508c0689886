"""A resource server refuses every token that is not a valid, current RS256 token of ours."""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.auth.conftest import AUDIENCE, ISSUER, bearer, login, register, unique_email


@pytest.fixture
def player(client):
    email = unique_email()
    user = register(client, email).json
    return {"id": user["id"], "token": login(client, email).json["accessToken"]}


def claims(subject: str, **overrides):
    now = int(time.time())
    base = {
        "sub": subject,
        "role": "player",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "type": "access",
    }
    base.update(overrides)
    return base


def sign_with_service_key(auth_container, payload) -> str:
    """A token signed with the real active key, to vary one claim at a time."""
    issuer = auth_container.token_issuer()
    kid, private = issuer._signing_key()
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


def me(client, token: str):
    return client.get("/api/v1/auth/me", headers=bearer(token))


def test_a_valid_token_is_accepted(client, player):
    assert me(client, player["token"]).status_code == 200


def test_a_missing_token_is_unauthenticated(client):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_refused(client, player, auth_container):
    token = sign_with_service_key(auth_container, claims(player["id"], exp=int(time.time()) - 60))
    response = me(client, token)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "TOKEN_EXPIRED"


def test_a_wrong_audience_or_issuer_is_refused(client, player, auth_container):
    for override in ({"aud": "another-api"}, {"iss": "https://evil.example"}):
        token = sign_with_service_key(auth_container, claims(player["id"], **override))
        response = me(client, token)
        assert response.status_code == 401, override
        assert response.json["error"]["code"] == "TOKEN_INVALID"


def test_a_token_forged_with_another_key_under_our_kid_is_refused(client, player):
    kid = jwt.get_unverified_header(player["token"])["kid"]
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        claims(player["id"], role="admin"), forger, algorithm="RS256", headers={"kid": kid}
    )
    assert me(client, forged).status_code == 401


def test_a_token_with_an_unknown_kid_is_refused(client, player):
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims(player["id"]), forger, algorithm="RS256", headers={"kid": "nope"})
    assert me(client, forged).status_code == 401


def test_alg_confusion_hs256_signed_with_the_public_key_is_refused(client, player):
    kid = jwt.get_unverified_header(player["token"])["kid"]
    jwk = next(k for k in client.get("/.well-known/jwks.json").json["keys"] if k["kid"] == kid)
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    segments = [
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=")
        for part in (header, claims(player["id"], role="admin"))
    ]
    import hashlib
    import hmac

    signature = hmac.new(public_pem, b".".join(segments), hashlib.sha256).digest()
    token = b".".join([*segments, base64.urlsafe_b64encode(signature).rstrip(b"=")]).decode()
    assert me(client, token).status_code == 401


def test_alg_none_is_refused(client, player):
    token = jwt.encode(claims(player["id"], role="admin"), key="", algorithm="none")
    assert me(client, token).status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic abc", "Bearer a.b", "Bearer " + "x" * 5000]
)
def test_malformed_authorization_headers_are_unauthenticated(client, header):
    response = client.get("/api/v1/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert "error" in response.json


def test_a_client_token_cannot_act_as_a_user(client, admin_token):
    created = client.post(
        "/api/v1/auth/clients",
        json={"name": "Casino", "scopes": ["rewards.write"], "eventSources": ["CASINO"]},
        headers=bearer(admin_token),
    ).json
    token = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(created["clientId"], created["clientSecret"]),
    ).json["access_token"]
    assert me(client, token).status_code == 403
    assert (
        client.post("/api/v1/auth/register-staff", json={}, headers=bearer(token)).status_code
        == 403
    )
