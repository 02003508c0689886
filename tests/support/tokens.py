"""Access tokens for tests of resource servers: an RSA key of our own, its JWKS (in process or
served over HTTP on 127.0.0.1), and tokens shaped like the auth service's."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.security.jwks import KeyResolver

ISSUER = "http://auth.test"
AUDIENCE = "loyalty-api"


class TokenMinter:
    """Signs RS256 access tokens like the auth service does (``kid`` header, ``type: access``)."""

    def __init__(self, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = uuid.uuid4().hex
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def public_key(self) -> Any:
        return self._key.public_key()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.public_key))
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [jwk]}

    def token(
        self,
        subject: str,
        role: str | None = "player",
        lifetime: float = 300,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
            "jti": uuid.uuid4().hex,
            "type": "access",
            **claims,
        }
        if role is not None:
            payload["role"] = role
        return jwt.encode(
            payload, self._key, algorithm="RS256", headers={"kid": kid or self.kid, "typ": "at+jwt"}
        )


class StaticKeyResolver(KeyResolver):
    """The minter's key only (in-process apps)."""

    def __init__(self, minter: TokenMinter) -> None:
        self._minter = minter

    def public_key(self, kid: str) -> Any | None:
        return self._minter.public_key if kid == self._minter.kid else None


class JwksServer:
    """Serves the minter's JWKS at ``http://127.0.0.1:<port>/.well-known/jwks.json``."""

    def __init__(self, minter: TokenMinter) -> None:
        body = json.dumps(minter.jwks()).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
