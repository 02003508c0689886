"""OAuth2 client credentials, introspection and revocation (RFC 6749, 7662, 7009)."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from unittest.mock import ANY

import jwt
import pytest
from flask.testing import FlaskClient

from auth_service import manage
from auth_service.app import create_app
from auth_service.application.commands import CreateClient
from auth_service.container import build_container
from auth_service.domain.exceptions import InvalidClientId, WeakClientSecret
from tests.integration.auth.conftest import AUDIENCE, ISSUER, auth_overrides, bearer
from tests.support.infra import Infra


@pytest.fixture
def partner(client, admin_token):
    created = client.post(
        "/api/v1/auth/clients",
        json={
            "name": "Hotel",
            "scopes": ["rewards.read", "rewards.write"],
            "eventSources": ["HOTEL"],
        },
        headers=bearer(admin_token),
    ).json
    return created["clientId"], created["clientSecret"]


def test_client_secret_basic_gets_a_token_with_all_allowed_scopes(client, partner):
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, auth=partner)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = response.json
    assert body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    assert set(body["scope"].split()) == {"rewards.read", "rewards.write"}
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == claims["client_id"] == partner[0]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert "role" not in claims


def test_client_secret_post_and_a_narrower_scope(client, partner):
    response = client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": partner[0],
            "client_secret": partner[1],
            "scope": "rewards.read",
        },
    )
    assert response.status_code == 200
    assert response.json["scope"] == "rewards.read"


def test_a_scope_the_client_may_not_have_is_invalid_scope(client, partner):
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "wallet.write"},
        auth=partner,
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"


def test_an_unknown_scope_is_invalid_scope(client, partner):
    response = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials", "scope": "admin"}, auth=partner
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"


def test_unknown_client_and_wrong_secret_are_invalid_client(client, partner):
    descriptions = set()
    for credentials in [("nobody", "secret"), (partner[0], "wrong-secret"), ("hotel\x00", "x")]:
        response = client.post(
            "/oauth2/token", data={"grant_type": "client_credentials"}, auth=credentials
        )
        assert response.status_code == 401
        assert response.json["error"] == "invalid_client"
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        descriptions.add(response.json.get("error_description"))
        # The same with the credentials in the form (client_secret_post).
        response = client.post(
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials[0],
                "client_secret": credentials[1],
            },
        )
        assert response.status_code == 401
        assert response.json["error"] == "invalid_client"
        descriptions.add(response.json.get("error_description"))
    # Nothing tells an unknown client id from a known one with a wrong secret.
    assert len(descriptions) == 1


@pytest.fixture
def other_process(infra: Infra, auth_database: str, auth_container) -> Iterator[FlaskClient]:
    """Another auth web process: its own client lookups, the same database and Redis."""
    container = build_container(auth_overrides(infra, auth_database))
    app = create_app(container=container)
    app.config["TESTING"] = True
    # Building a container wires the controllers to it; in one Python process the views of
    # the session's app go back to theirs (each app's token endpoint keeps its own).
    auth_container.wire()
    app.extensions["warm_up"]()  # as before it takes traffic: listening to announcements
    deadline = time.monotonic() + 10
    while not container.core.inactive_users().synced:
        assert time.monotonic() < deadline, "the other process never heard the announcements"
        time.sleep(0.05)
    yield app.test_client(use_cookies=False)
    container.shutdown_resources()
    container.reset_singletons()
    auth_container.wire()


def test_a_client_created_after_its_id_was_tried_works_at_once(client, other_process, admin_token):
    # A partner tries its configuration before the client exists: "no such client" was then
    # remembered for security.client_cache_seconds (10 s), and the new client refused.
    def token(via: FlaskClient, secret: str) -> int:
        answer = via.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("spa-partner", secret),
        )
        return int(answer.status_code)

    assert token(client, "s3cr3t-not-yet") == 401
    assert token(other_process, "s3cr3t-not-yet") == 401
    created = client.post(
        "/api/v1/auth/clients",
        json={"name": "Spa", "scopes": ["rewards.read"], "clientId": "spa-partner"},
        headers=bearer(admin_token),
    )
    assert created.status_code == 201, created.json
    secret = created.json["clientSecret"]
    assert token(client, secret) == 200
    # The other process forgets it as soon as it hears the creation announced.
    deadline = time.monotonic() + 3
    while token(other_process, secret) != 200:
        assert time.monotonic() < deadline, "the other process still refuses the new client"
        time.sleep(0.1)


def test_no_client_authentication_is_invalid_client(client):
    response = client.post("/oauth2/token", data={"grant_type": "client_credentials"})
    assert response.status_code in (400, 401)
    assert response.json["error"] == "invalid_client"


def test_unsupported_grant_types_are_refused(client, partner):
    for grant in ["password", "authorization_code", "refresh_token", "urn:evil"]:
        response = client.post("/oauth2/token", data={"grant_type": grant}, auth=partner)
        assert response.status_code == 400
        assert response.json["error"] == "unsupported_grant_type", grant


@pytest.mark.parametrize("form", [{}, {"grant_type": ""}, {"scope": "rewards.read"}])
def test_a_missing_grant_type_is_invalid_request(client, partner, form):
    # RFC 6749 §5.2: a required parameter missing; an empty one counts as omitted (§3.1).
    for auth in (partner, None):
        response = client.post(
            "/oauth2/token",
            data=form,
            auth=auth,
            content_type="application/x-www-form-urlencoded",
        )
        assert response.status_code == 400
        assert response.json["error"] == "invalid_request"
        assert "grant_type" in response.json["error_description"]


def test_a_parameter_sent_twice_is_invalid_request(client, partner):
    # RFC 6749 §3.1: parameters MUST NOT be included more than once; none of them is picked.
    for body in [
        "grant_type=client_credentials&scope=rewards.read&scope=rewards.write",
        "grant_type=client_credentials&grant_type=client_credentials",
    ]:
        response = client.post(
            "/oauth2/token",
            data=body,
            content_type="application/x-www-form-urlencoded",
            auth=partner,
        )
        assert response.status_code == 400, body
        assert response.json["error"] == "invalid_request"
        assert "more than once" in response.json["error_description"]
        assert response.headers["Cache-Control"] == "no-store"
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=partner
    ).json["access_token"]
    twice = client.post(
        "/oauth2/revoke",
        data=f"token={token}&token=other",
        content_type="application/x-www-form-urlencoded",
        auth=partner,
    )
    assert twice.status_code == 400
    still = client.post("/oauth2/introspect", data={"token": token}, auth=partner)
    assert still.json["active"] is True


def test_parameters_in_the_url_are_invalid_request(client, partner):
    # RFC 6749 §4.4.2: in the body. Authlib merged the URL's in and let them win over the
    # body's: ?scope=rewards.read beside scope=rewards.write issued rewards.read.
    for url, body in [
        ("/oauth2/token?grant_type=client_credentials", {}),
        ("/oauth2/token?scope=rewards.read", {"grant_type": "client_credentials"}),
    ]:
        response = client.post(url, data=body, auth=partner)
        assert response.status_code == 400, url
        assert response.json["error"] == "invalid_request"


def test_a_malformed_basic_header_does_not_crash(client):
    garbage = base64.b64encode(b"\xff\xfe no colon").decode()
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {garbage}"},
    )
    assert response.status_code in (400, 401)


def test_introspection_reports_own_tokens_active_and_others_inactive(client, partner, admin_token):
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=partner
    ).json["access_token"]
    active = client.post("/oauth2/introspect", data={"token": token}, auth=partner)
    assert active.status_code == 200
    assert active.json["active"] is True
    assert active.json["client_id"] == partner[0]
    assert set(active.json["scope"].split()) == {"rewards.read", "rewards.write"}
    # Another client may not learn about it; a user token or garbage is just inactive.
    other = client.post(
        "/api/v1/auth/clients",
        json={"name": "Other", "scopes": ["rewards.read"]},
        headers=bearer(admin_token),
    ).json
    foreign = client.post(
        "/oauth2/introspect", data={"token": token}, auth=(other["clientId"], other["clientSecret"])
    )
    assert foreign.json == {"active": False}
    garbage = client.post("/oauth2/introspect", data={"token": "not.a.token"}, auth=partner)
    assert garbage.json == {"active": False}
    # The type hint is only a hint (RFC 7662 §2.1): whatever it says, the token is looked up.
    for hint in ["access_token", "refresh_token", "urn:other"]:
        hinted = client.post(
            "/oauth2/introspect", data={"token": token, "token_type_hint": hint}, auth=partner
        )
        assert hinted.status_code == 200, hint
        assert hinted.json["active"] is True


@pytest.mark.parametrize("claim", [{"iat": "1000"}, {"exp": "4102444800"}, {"nbf": "1000"}])
def test_a_token_whose_times_are_not_numbers_is_inactive(client, partner, auth_container, claim):
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=partner
    ).json["access_token"]
    payload = {**jwt.decode(token, options={"verify_signature": False}), **claim}
    issuer = auth_container.token_issuer()
    kid, private = issuer._signing_key()
    altered = jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})
    answer = client.post("/oauth2/introspect", data={"token": altered}, auth=partner)
    assert answer.json == {"active": False}


def test_introspection_requires_client_authentication(client):
    response = client.post("/oauth2/introspect", data={"token": "x"})
    assert response.status_code == 401


def test_revocation_makes_a_token_inactive(client, partner):
    token = client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=partner
    ).json["access_token"]
    revoked = client.post(
        "/oauth2/revoke", data={"token": token, "token_type_hint": "refresh_token"}, auth=partner
    )
    assert revoked.status_code == 200
    assert client.post("/oauth2/introspect", data={"token": token}, auth=partner).json == {
        "active": False
    }
    # Revoking an unknown token is not an error (RFC 7009 §2.2).
    assert client.post("/oauth2/revoke", data={"token": "unknown"}, auth=partner).status_code == 200


def test_discovery_documents(client):
    metadata = client.get("/.well-known/oauth-authorization-server").json
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth2/token"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    # Required by RFC 8414; no authorization endpoint, so no response type.
    assert metadata["response_types_supported"] == []
    # Only for JWT client authentication (private_key_jwt, client_secret_jwt): not offered.
    assert "token_endpoint_auth_signing_alg_values_supported" not in metadata
    keys = client.get("/.well-known/jwks.json").json["keys"]
    assert keys
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
    assert all("key_ops" not in k for k in keys)  # not beside use (RFC 7517 §4.3)
    assert all("d" not in k and "p" not in k for k in keys)  # public halves only


def test_a_provisioned_client_works_with_the_deployments_secret(client, auth_container):
    clients = auth_container.client_service()
    first, second = "s3Cr3t-0f-th3-w4ll3t-cl13nt-f1rst", "An0th3r-w4ll3t-s3cr3t-fr0m-th3-st0r3"
    command = CreateClient(
        name="Rewards service (wallet calls)",
        scopes=frozenset({"wallet.write"}),
        client_id="wallet-caller",
        secret=first,
    )

    def token_status(secret: str) -> int:
        answer = client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=("wallet-caller", secret),
        )
        return int(answer.status_code)

    assert clients.provision(command, actor="deployment") == "created"
    assert token_status(first) == 200
    assert clients.provision(command, actor="deployment") == "unchanged"
    # The secret store holds another value now (a rotation there): auth follows it.
    assert clients.provision(replace(command, secret=second), actor="deployment") == "rotated"
    assert token_status(second) == 200
    assert token_status(first) == 401
    with pytest.raises(WeakClientSecret, match="at least 32"):
        clients.provision(replace(command, secret="short"), actor="deployment")
    with pytest.raises(WeakClientSecret, match="different"):
        clients.provision(replace(command, secret="s" * 40), actor="deployment")
    # Provisioned (WALLET_CLIENT_ID) like created over REST: never under a user's id.
    with pytest.raises(InvalidClientId):
        clients.provision(
            replace(command, client_id="1b4e28ba-2fa1-11d2-883f-0016d3cca427"), actor="deployment"
        )


def test_the_migrate_job_registers_the_wallet_client_with_the_secret_it_is_given(
    client, auth_container, auth_database, infra, monkeypatch, capsys
):
    secret = "w4ll3t-s3cr3t-g1v3n-t0-th3-m1gr4t3-j0b"
    monkeypatch.setenv("LOYALTY_PROFILE", "test")
    monkeypatch.setenv("DATABASE_URL", auth_database)
    monkeypatch.setenv("REDIS_URL", infra.redis_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    monkeypatch.setenv("WALLET_CLIENT_ID", "wallet-by-migrate")
    monkeypatch.setenv("WALLET_CLIENT_SECRET", secret)

    try:
        manage.main(["migrate"])
    finally:
        # The command's own container wired the controllers to itself, and is shut down now:
        # the later tests' requests must reach the session's container again.
        auth_container.wire()

    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {
        "walletClient": "wallet-by-migrate",
        "outcome": "created",
    }
    token = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("wallet-by-migrate", secret),
    )
    assert token.status_code == 200
    assert token.json["scope"] == "wallet.write"


def test_one_authentication_method_per_request(client, partner):
    both = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "casino", "client_secret": "x"},
        auth=partner,
    )
    assert both.status_code == 400
    assert both.json["error"] == "invalid_request"
    other_id = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "casino"},
        auth=partner,
    )
    assert other_id.status_code == 400
    # Naming itself in the body as well is no second method.
    same_id = client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": partner[0]},
        auth=partner,
    )
    assert same_id.status_code == 200


def test_parameters_sent_without_a_value_count_as_omitted(client, partner):
    # RFC 6749 §3.1; Swagger UI's Try it out sends the empty body fields beside the header.
    form = {"grant_type": "client_credentials", "client_id": "", "client_secret": "", "scope": ""}
    token = client.post("/oauth2/token", data=form, auth=partner)
    assert token.status_code == 200, token.json
    assert set(token.json["scope"].split()) == {"rewards.read", "rewards.write"}
    access = token.json["access_token"]
    introspection = client.post(
        "/oauth2/introspect",
        data={"token": access, "token_type_hint": "", "client_secret": ""},
        auth=partner,
    )
    assert introspection.status_code == 200
    assert introspection.json["active"] is True
    # A parameter sent twice is refused even when one of its values is empty.
    twice = client.post(
        "/oauth2/token",
        data={"grant_type": ["client_credentials", ""]},
        auth=partner,
    )
    assert twice.status_code == 400
    assert twice.json["error"] == "invalid_request"
    # An empty grant type is no grant type, answered as when it is left out.
    empty = client.post(
        "/oauth2/token", data={"grant_type": "", "client_id": partner[0]}, auth=partner
    )
    missing = client.post("/oauth2/token", data={"client_id": partner[0]}, auth=partner)
    assert (empty.status_code, empty.json) == (missing.status_code, missing.json)


def test_plain_http_from_the_private_network_is_served_where_the_deployment_allows_it(
    client, partner, monkeypatch
):
    # Services fetch tokens from http://auth:8001 inside the network (TLS ends at the gateway):
    # authlib refuses plain HTTP from any address but loopback unless told otherwise. It was a
    # 500; without the deployment's AUTHLIB_INSECURE_TRANSPORT it is the client's error.
    internal = {"base_url": "http://auth:8001", "auth": partner}
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    refused = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, **internal)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_request"
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    served = client.post("/oauth2/token", data={"grant_type": "client_credentials"}, **internal)
    assert served.status_code == 200, served.json


def test_parameters_sent_as_json_are_refused_as_an_invalid_request(client):
    for path in ("/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"):
        answer = client.post(path, json={"grant_type": "client_credentials", "token": "x"})
        assert answer.status_code == 400, path
        assert answer.json["error"] == "invalid_request", path
        assert "form-encoded" in answer.json["error_description"]


PADDING = "pad=" + "a" * 100_000  # past web.max_body_bytes (64 KiB)


@pytest.mark.parametrize("path", ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"])
@pytest.mark.parametrize(
    "form",
    [
        # Cut at the limit, it lost its grant_type (a misleading error) or kept it (a token).
        f"{PADDING}&grant_type=client_credentials",
        f"grant_type=client_credentials&token=x&{PADDING}",
    ],
    ids=["trailing", "leading"],
)
def test_a_chunked_form_over_the_limit_is_refused_not_parsed_cut_short(client, partner, path, form):
    # No Content-Length to refuse it by: refused as the same form with one would be.
    chunked = client.post(
        path,
        input_stream=io.BytesIO(form.encode()),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
        auth=partner,
    )
    declared = client.post(
        path, data=form, content_type="application/x-www-form-urlencoded", auth=partner
    )
    assert declared.status_code == 413
    assert (chunked.status_code, chunked.json) == (413, {**declared.json, "error": ANY})
    assert chunked.json["error"]["code"] == declared.json["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_form_within_the_limit_is_read_whole(client, partner):
    form = "grant_type=client_credentials&scope=rewards.read&pad=" + "a" * 60_000
    answer = client.post(
        "/oauth2/token",
        input_stream=io.BytesIO(form.encode()),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
        auth=partner,
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["scope"] == "rewards.read"
