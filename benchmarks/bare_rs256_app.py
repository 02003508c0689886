"""The baseline: a bare Flask endpoint that does the same RS256 check and nothing else."""

from __future__ import annotations

import os

import jwt
import requests
from flask import Flask, abort, jsonify, request


def create_app() -> Flask:
    keys = {
        k["kid"]: jwt.PyJWK(k).key
        for k in requests.get(os.environ["AUTH_JWKS_URL"], timeout=5).json()["keys"]
    }
    issuer, audience = os.environ["AUTH_ISSUER"], os.environ.get("AUTH_AUDIENCE", "loyalty-api")
    app = Flask(__name__)

    @app.get("/whoami")
    def whoami():
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        try:
            kid = jwt.get_unverified_header(token)["kid"]
            claims = jwt.decode(
                token, keys[kid], algorithms=["RS256"], audience=audience, issuer=issuer
            )
        except (jwt.PyJWTError, KeyError):
            abort(401)
        return jsonify(sub=claims["sub"], role=claims.get("role"))

    return app
