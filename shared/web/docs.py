"""Swagger UI served from local assets (no CDN) with a strict content security policy."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Blueprint, Response, abort, send_from_directory

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
OWN_ASSETS = frozenset({"loyalty-swagger-init.js"})
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


def swagger_assets_blueprint(service: str) -> Blueprint:
    blueprint = Blueprint("swagger_assets", __name__)
    bundle_dir = Path(swagger_ui_bundle.swagger_ui_path)

    @blueprint.get(f"/{service}/api-docs/assets/<path:filename>")
    def asset(filename: str) -> Response:
        if filename in OWN_ASSETS:
            return send_from_directory(STATIC_DIR, filename, max_age=3600)
        if not filename.endswith((".js", ".css", ".png", ".map")):
            abort(404)
        return send_from_directory(bundle_dir, filename, max_age=86400)

    return blueprint
