"""The wallet service's Flask app (gunicorn: ``redeem_service.app:create_app()``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask

from redeem_service.container import Container, build_container
from redeem_service.controllers import redemptions, wallet
from redeem_service.controllers.errors import ERRORS
from shared.security.resource_server import configure_resource_server
from shared.warm_up import core_warm_up, warm_up
from shared.web.app_factory import create_base_app
from shared.web.health import core_checks
from shared.web.json_provider import ExactNumbersJSONProvider

SERVICE = "redeem"


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
        title="Loyalty Wallet API",
        description="Player wallets: bonus and points balances, the transaction log, "
        "adjustments and redemptions of points. Internal services use the gRPC Wallet service "
        "instead.",
    )
    # Transactions carry their additional data's numbers exactly (Decimal): as JSON numbers.
    app.json = ExactNumbersJSONProvider(app)
    security = settings["security"]
    configure_resource_server(
        app,
        key_resolver=container.key_resolver(),
        security=security,
        inactive_users=core.inactive_users(),
    )
    api.register_blueprint(wallet.blp)
    api.register_blueprint(redemptions.blp)
    app.extensions["container"] = container
    app.extensions["warm_up"] = partial(warm_up, core_warm_up(core, container.key_resolver()))
    return app
