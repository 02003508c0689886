"""Per-client-address rate limits (flask-limiter) stored in Redis, so every replica shares them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from shared.redis_client import limiter_storage_uri

#: the answers a Retry-After belongs to (RFC 9110 §10.2.3): too many requests, unavailable
RETRY_AFTER_STATUSES = frozenset({429, 503})


def create_limiter(app: Flask, settings: Mapping[str, Any]) -> Limiter:
    limits = settings.get("rate_limits", {})

    # Registered before the limiter's own hook, so it runs after it: flask-limiter sets
    # Retry-After on every answer, but it means "try again later" only on a refusal.
    @app.after_request
    def _retry_after_only_on_refusals(response: Response) -> Response:
        if response.status_code not in RETRY_AFTER_STATUSES:
            response.headers.pop("Retry-After", None)
        return response

    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=limiter_storage_uri(str(settings["redis"]["url"])),
        storage_options={"socket_timeout": 2, "socket_connect_timeout": 2},
        strategy="moving-window",
        headers_enabled=True,
        enabled=bool(limits.get("enabled", True)),
        # If Redis is down, let requests through rather than failing every call.
        swallow_errors=True,
        default_limits=[],
    )
    # The limits' wrappers hold the limiter weakly, and a disabled limiter does not register
    # itself with the app: the app keeps it alive either way.
    app.extensions["rate_limiter"] = limiter
    return limiter


def limit_endpoints(app: Flask, limiter: Limiter, limits: Mapping[str, str]) -> None:
    """Apply ``limits`` (endpoint → "N/period") to views already registered on ``app``.

    The limit wraps the registered view function itself: decorating a ``MethodView`` class
    returns a wrapper that nothing routes to, so such a limit is never checked.
    """
    if not limiter.enabled:
        return
    for endpoint, limit in limits.items():
        limited: Any = limiter.limit(limit)(app.view_functions[endpoint])
        app.view_functions[endpoint] = limited
