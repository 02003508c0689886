"""The identity service's Flask app (gunicorn: ``auth_service.app:create_app()``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask

from auth_service.application.services import forget_changed_client
from auth_service.container import Container, build_container
from auth_service.controllers import admin, auth, oauth2, well_known
from auth_service.controllers.errors import ERRORS
from shared.security.resource_server import configure_resource_server
from shared.warm_up import core_warm_up, warm_up
from shared.web.app_factory import create_base_app
from shared.web.health import core_checks
from shared.web.rate_limit import create_limiter, limit_endpoints

SERVICE = "auth"


def create_app(
    overrides: dict[str, Any] | None = None, container: Container | None = None
) -> Flask:
    """Build the app on the active profile's settings (``overrides`` merged last)."""
    container = container or build_container(overrides)
    settings = container.config()
    core = container.core
    readiness = core_checks(core, settings["kafka"])
    app, api = create_base_app(
        __name__,
        SERVICE,
        settings,
        ERRORS,
        readiness,
        title="Loyalty Auth API",
        description="Players, staff and partner clients: accounts, sessions, OAuth2 and keys.",
    )
    security = settings["security"]
    app.config["OAUTH_ISSUER"] = security["issuer"]
    app.config["REFRESH_COOKIE"] = {
        **security["refresh_cookie"],
        "max_age": security["refresh_token_ttl_seconds"],
    }
    api.spec.components.security_scheme("clientBasic", {"type": "http", "scheme": "basic"})

    container.key_service().ensure_active()
    # A change to a client made by another auth process reaches this one's client lookups as
    # soon as it is announced (disable, enable, rotation, narrowing), not when they expire.
    core.inactive_users().on_change(partial(forget_changed_client, container.client_lookups()))
    configure_resource_server(
        app,
        key_resolver=container.token_issuer(),
        security=security,
        inactive_users=core.inactive_users(),
    )
    oauth2.init_authorization_server(app)
    for blueprint in (auth.blp, admin.blp, oauth2.blp, well_known.blp):
        api.register_blueprint(blueprint)
    limits = settings.get("rate_limits", {})
    limit_endpoints(
        app,
        create_limiter(app, settings),
        {
            "auth.Register": limits.get("register", "20/minute"),
            "auth.Login": limits.get("login", "60/minute"),
            "auth.Refresh": limits.get("refresh", "60/minute"),
            # Two argon2 computations each: the lockout bounds guessing, this the CPU spent.
            "auth.MyPassword": limits.get("password_change", "20/minute"),
            "auth.PasswordResetWithCode": limits.get("password_reset", "20/minute"),
            "oauth2.token": limits.get("token", "6000/minute"),
        },
    )
    app.extensions["container"] = container
    app.extensions["warm_up"] = partial(warm_up, core_warm_up(core))
    return app
