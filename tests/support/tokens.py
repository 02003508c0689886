"""Access tokens for tests: an RS256 key pair that signs like the auth service, its keys for
in-process verification, and a tiny JWKS HTTP server publishing them, so resource servers verify
tokens for real."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.application.ports import InactiveUsers
from shared.security.jwks import KeyResolver

ISSUER = "http://auth.test"
AUDIENCE = "loyalty-api"


class TestSigner:
    """Signs access tokens with its own key; ``jwks()`` is what it would publish."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def token(
        self,
        subject: str,
        *,
        role: str | None = None,
        scope: str | None = None,
        lifetime: int = 300,
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
            "type": "access",
        }
        if role is not None:
            payload["role"] = role
        if scope is not None:
            payload["scope"] = scope
            payload["client_id"] = subject
        payload.update(claims or {})
        return jwt.encode(
            payload,
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})},
        )

    def client_token(self, client_id: str = "rewards-service", scope: str = "wallet.write") -> str:
        return self.token(client_id, scope=scope)

    def user_token(self, user_id: str, role: str = "player") -> str:
        return self.token(user_id, role=role)


class TokenMinter(TestSigner):
    """Tokens for player-facing tests: role ``player`` unless told otherwise; extra keyword
    arguments become claims (``aud="someone-else"``)."""

    def token(
        self,
        subject: str,
        role: str | None = "player",
        lifetime: int = 300,
        kid: str | None = None,
        scope: str | None = None,
        **claims: Any,
    ) -> str:
        return super().token(
            subject,
            role=role,
            scope=scope,
            lifetime=lifetime,
            claims=claims,
            headers={"kid": kid} if kid else None,
        )


class StaticKeyResolver(KeyResolver):
    """The signer's key only (apps built in process, without a JWKS endpoint).

    ``asked`` lists the key ids looked up: one per signature checked.
    """

    def __init__(self, signer: TestSigner) -> None:
        self._signer = signer
        self.asked: list[str] = []

    def public_key(self, kid: str) -> Any | None:
        self.asked.append(kid)
        return self._signer.public_key if kid == self._signer.kid else None


class RevocationsInMemory(InactiveUsers):
    """Token revocations kept in a dict (account → issued before); for the fakes below."""

    def __init__(self) -> None:
        self.revoked: dict[str, int] = {}
        self.announced: list[str] = []

    def tokens_revoked(self, account: str, issued_at: int) -> bool:
        return issued_at < self.revoked.get(account, 0)

    def revoke_tokens(self, account: str, issued_before: int, until: int) -> None:
        self.revoked[account] = max(self.revoked.get(account, 0), issued_before)

    def announce_change(self, account: str) -> None:
        self.announced.append(account)


class SetOfInactiveUsers(RevocationsInMemory):
    """Accounts marked inactive by the test."""

    def __init__(self, *user_ids: str) -> None:
        super().__init__()
        self.ids = set(user_ids)

    def is_inactive(self, user_id: str) -> bool:
        return user_id in self.ids

    def mark(self, user_id: str, inactive: bool, as_of: datetime | None = None) -> bool:
        (self.ids.add if inactive else self.ids.discard)(user_id)
        return True


class JwksServer:
    """Serves ``/.well-known/jwks.json`` for a signer on 127.0.0.1 (a free port)."""

    def __init__(self, signer: TestSigner) -> None:
        self.signer = signer
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                body = json.dumps(server.signer.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/.well-known/jwks.json"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


class TokenEndpoint:
    """``POST /oauth2/token`` (client credentials, Basic auth) issuing the signer's tokens, for
    tests of callers that fetch their own token. Counts the tokens it issued."""

    def __init__(self, signer: TestSigner, client_id: str, client_secret: str) -> None:
        self.issued = 0
        endpoint = self
        expected = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if self.headers.get("Authorization") != expected:
                    self._answer(401, {"error": "invalid_client"})
                    return
                scope = form.get("scope", [""])[0]
                endpoint.issued += 1
                token = signer.token(client_id, scope=scope, lifetime=300)
                self._answer(
                    200,
                    {
                        "access_token": token,
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "scope": scope,
                    },
                )

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/oauth2/token"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def into_the_next_second() -> None:
    """Sleep until the wall clock enters a new second: tokens carry ``iat`` in whole seconds,
    so a token issued before this is older than anything revoked after it."""
    started = int(time.time())
    while int(time.time()) == started:
        time.sleep(0.02)
