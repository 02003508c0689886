"""Operations on the notification service: ``python -m notification_service.manage <command>``.

migrate                       create the MongoDB indexes and complete older documents (the
                              recipient's role; idempotent; production runs this instead of
                              doing it at start-up)
"""

from __future__ import annotations

import argparse

from notification_service.adapters.mongo import ensure_indexes
from notification_service.container import build_container
from shared.observability.logging import configure_logging


def migrate(_: argparse.Namespace) -> None:
    container = build_container()
    try:
        ensure_indexes(container.mongo())
    finally:
        container.shutdown_resources()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="notification_service.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate").set_defaults(run=migrate)
    args = parser.parse_args(argv)
    configure_logging("notification-manage", level="WARNING")
    args.run(args)


if __name__ == "__main__":
    main()
