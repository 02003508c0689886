"""The rewards service's Flask app (gunicorn: ``rewards_service.app:create_app()``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask

from rewards_service.container import Container, build_container
from rewards_service.controllers import earning, promotions
from rewards_service.controllers.errors import ERRORS
from shared.security.resource_server import configure_resource_server
from shared.warm_up import WarmUpStep, core_warm_up, warm_up
from shared.web.app_factory import create_base_app
from shared.web.health import core_checks

SERVICE = "rewards"


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
        title="Loyalty Rewards API",
        description="Promotions (created and assigned by staff, held by players) and loyalty "
        "points earned from partner events (hotel, casino, dining) under versioned rules.",
    )
    security = settings["security"]
    configure_resource_server(
        app,
        key_resolver=container.key_resolver(),
        security=security,
        inactive_users=core.inactive_users(),
    )
    api.register_blueprint(promotions.blp)
    api.register_blueprint(earning.blp)
    app.extensions["container"] = container
    steps = core_warm_up(core, container.key_resolver())
    steps.append(WarmUpStep("wallet", lambda: container.wallet().connect()))
    app.extensions["warm_up"] = partial(warm_up, steps)
    return app
