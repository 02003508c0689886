"""The identity service's worker: publishes its outbox (``python -m auth_service.worker``)."""

from __future__ import annotations

from auth_service.container import build_container
from shared.messaging.relay import OutboxRelay
from shared.messaging.worker import Worker
from shared.observability.logging import configure_logging


def main() -> None:
    container = build_container()
    settings = container.config()
    configure_logging("auth-worker", level=settings["logging"]["level"])
    worker_settings = settings["worker"]
    relay = OutboxRelay(
        container.core.database(),
        container.core.producer(),
        service="auth",
        batch_size=int(worker_settings["relay_batch_size"]),
        poll_interval=float(worker_settings["relay_poll_seconds"]),
    )
    try:
        Worker([relay], metrics_port=int(worker_settings["metrics_port"]) or None).run_forever()
    finally:
        container.shutdown_resources()


if __name__ == "__main__":
    main()
