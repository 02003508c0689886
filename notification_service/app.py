"""The notification service's Flask app (gunicorn, gevent worker:
``notification_service.app:create_app()``)."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Flask
from werkzeug.routing.exceptions import WebsocketMismatch
from wsproto.utilities import RemoteProtocolError

from notification_service.adapters.mongo import check_mongo, ensure_indexes
from notification_service.container import Container, build_container
from notification_service.controllers import live, notifications
from notification_service.controllers.errors import ERRORS
from shared.security.resource_server import configure_resource_server
from shared.warm_up import WarmUpStep, core_warm_up, warm_up
from shared.web.app_factory import create_base_app
from shared.web.health import HealthCheck

SERVICE = "notification"


def create_app(
    overrides: dict[str, Any] | None = None, container: Container | None = None
) -> Flask:
    """Build the app on the active profile's settings (``overrides`` merged last).

    Each web process subscribes once to the live channel and serves its own sockets."""
    container = container or build_container(overrides)
    settings = container.config()
    core = container.core
    subscriber = container.live_subscriber()
    connections = [
        HealthCheck("mongodb", lambda: check_mongo(container.mongo())),
        HealthCheck("redis", lambda: core.redis().ping()),
    ]
    readiness = [
        *connections,
        HealthCheck("live_channel", subscriber.check),
    ]
    app, api = create_base_app(
        __name__,
        SERVICE,
        settings,
        ERRORS,
        readiness,
        title="Loyalty Notification API",
        description="A player's notifications: read them, mark them read, or receive them "
        "live over a WebSocket.",
    )
    if settings["mongodb"].get("ensure_indexes_on_start"):
        ensure_indexes(container.mongo())
    security = settings["security"]
    configure_resource_server(
        app,
        key_resolver=container.key_resolver(),
        security=security,
        inactive_users=core.inactive_users(),
    )
    # Only the socket route looks at the query string (older clients that cannot set headers).
    app.config["JWT_QUERY_STRING_NAME"] = live.TOKEN_QUERY_PARAMETER
    live_settings = settings["live"]
    app.config["SOCK_SERVER_OPTIONS"] = {
        "ping_interval": float(live_settings["ping_interval_seconds"]),
        "max_message_size": int(live_settings["max_incoming_message_bytes"]),
        "subprotocols": [live.SUBPROTOCOL],
    }
    api.register_blueprint(notifications.blp)
    app.register_blueprint(live.blp)
    app.register_error_handler(WebsocketMismatch, live.upgrade_required)
    app.register_error_handler(RemoteProtocolError, live.handshake_refused)
    socket_rule = next(r for r in app.url_map.iter_rules() if r.rule == live.WS_PATH)
    api.spec.path(rule=socket_rule, operations=live.openapi_operation())

    subscriber.start()
    live.drain_on_terminate(container.live_sessions())
    app.extensions["container"] = container
    # MongoDB and Redis connections, the inactive-user mirror and the JWKS before the first
    # request (a fresh process's first request otherwise took 25-40 ms instead of ~9 ms).
    steps = [
        *(WarmUpStep(check.name, check.probe) for check in connections),
        *core_warm_up(core, container.key_resolver(), connections=0),
    ]
    app.extensions["warm_up"] = partial(warm_up, steps)
    return app
