"""What every response carries, and the operational endpoints."""

from __future__ import annotations

import redis
from dependency_injector import providers

from tests.support.openapi import unreadable_summaries


def test_every_response_carries_security_headers_and_no_banner(client):
    for response in (
        client.get("/health/live"),
        client.get("/nope"),
        client.post("/api/v1/auth/login", json={}),
    ):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" in headers
        assert "Server" not in headers or "werkzeug" not in headers["Server"].lower()


def test_the_correlation_id_is_echoed_or_made_up(client):
    echoed = client.get("/health/live", headers={"X-Correlation-ID": "abc-123"})
    assert echoed.headers["X-Correlation-ID"] == "abc-123"
    made = client.get("/health/live", headers={"X-Correlation-ID": "<script>alert(1)</script>"})
    assert made.headers["X-Correlation-ID"] != "<script>alert(1)</script>"
    error = client.get("/api/v1/auth/nothing-here", headers={"X-Correlation-ID": "corr-404"})
    assert error.json["error"]["correlationId"] == "corr-404"


def test_unknown_routes_and_methods_use_the_envelope(client):
    missing = client.get("/api/v1/auth/nothing-here")
    assert missing.status_code == 404
    assert missing.json["error"]["code"] == "NOT_FOUND"
    wrong = client.delete("/api/v1/auth/login")
    assert wrong.status_code == 405
    assert wrong.json["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in wrong.headers["Allow"]


def test_errors_never_leak_internals(client):
    response = client.post(
        "/api/v1/auth/login", data=b"\x00\xff\xfe", content_type="application/json"
    )
    assert response.status_code in (400, 422)
    text = response.get_data(as_text=True)
    for leak in ("Traceback", 'File "', "sqlalchemy", "psycopg", "werkzeug"):
        assert leak not in text


def test_readiness_checks_its_dependencies(client, auth_container):
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json["checks"] == {
        "database": {"status": "UP"},
        "redis": {"status": "UP"},
        "kafka": {"status": "UP"},
    }
    broken = redis.Redis(unix_socket_path="/nonexistent/redis.sock", socket_connect_timeout=0.2)
    with auth_container.core.redis.override(providers.Object(broken)):
        down = client.get("/health/ready")
    assert down.status_code == 503
    assert down.json["checks"]["redis"]["status"] == "DOWN"
    assert client.get("/health/live").status_code == 200


def test_metrics_are_exposed_for_prometheus(client):
    client.get("/health/live")
    body = client.get("/metrics").get_data(as_text=True)
    assert "http_requests_total" in body
    assert 'service="auth"' in body


def test_clients_cannot_add_metric_series(client):
    # Servers take any token as a method: an invented one counts as OTHER, not as a new label
    # value; a method a route does not take counts under the route's template.
    client.open("/api/v1/auth/nowhere-xyz", method="XQZAB")
    refused = client.open("/api/v1/auth/login", method="PROPFIND")
    assert refused.status_code == 405
    body = client.get("/metrics").get_data(as_text=True)
    assert "XQZAB" not in body
    assert "PROPFIND" not in body
    assert "nowhere-xyz" not in body
    assert 'method="OTHER"' in body
    assert 'endpoint="/api/v1/auth/login",method="OTHER",service="auth",status="405"' in body


def test_swagger_ui_is_served_from_local_assets(client):
    page = client.get("/auth/api-docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/auth/api-docs/assets/swagger-ui-bundle.js" in html
    assert "http" not in html.split("<body>")[1].split("assets/")[0]  # no CDN
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    asset = client.get("/auth/api-docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert client.get("/auth/api-docs/assets/../../etc/passwd").status_code == 404


def test_the_openapi_document_lists_every_route_with_bearer_auth(client):
    spec = client.get("/auth/openapi.json").json
    assert unreadable_summaries(spec) == []
    paths = spec["paths"]
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/register-staff",
        "/api/v1/auth/users",
        "/api/v1/auth/clients",
        "/oauth2/token",
        "/oauth2/introspect",
        "/oauth2/revoke",
        "/.well-known/jwks.json",
    ]:
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    staff = paths["/api/v1/auth/register-staff"]["post"]
    assert staff["security"] == [{"bearerAuth": []}]
    assert {"401", "403", "409", "422"} <= set(staff["responses"])


def test_nul_characters_are_refused_at_the_edge(client):
    body = b'{"email": "a@example.com", "password": "correct horse\\u0000 battery"}'
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "VALIDATION_FAILED"
    query = client.get("/api/v1/auth/users?q=abc%00def")
    assert query.status_code == 400
    assert query.json["error"]["code"] == "BAD_REQUEST"


def test_the_oauth_and_discovery_answers_are_documented_as_they_are_sent(client):
    spec = client.get("/auth/openapi.json").json
    paths = spec["paths"]
    jwks = client.get("/.well-known/jwks.json").json
    documented = paths["/.well-known/jwks.json"]["get"]["responses"]["200"]
    assert set(documented["content"]["application/json"]["schema"]["required"]) <= set(jwks)
    metadata = paths["/.well-known/oauth-authorization-server"]["get"]["responses"]["200"]
    required = metadata["content"]["application/json"]["schema"]["required"]
    assert required == ["issuer", "jwks_uri", "response_types_supported"]
    assert set(required) <= set(client.get("/.well-known/oauth-authorization-server").json)
    for path in ("/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"):
        refused = paths[path]["post"]["responses"]["400"]["content"]["application/json"]
        assert refused["schema"]["required"] == ["error"], path
    answer = client.post("/oauth2/introspect", data={})
    assert answer.status_code in {400, 401}
    assert "error" in answer.json
