"""Operations on the rewards service: ``python -m rewards_service.manage <command>``.

migrate                       apply the Alembic migrations
seed                          create a running welcome promotion when there is none; prints it
                              as one JSON line ({"welcomePromotion": {...}}, or {} when none made)
republish-confirmed --since T publish again the REWARD_CONFIRMED of every event confirmed since T
                              (RFC 3339), e.g. for a wallet restored from an older backup; prints
                              {"republished": N}. The wallet applies each source event once.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from rewards_service.container import build_container
from rewards_service.domain.exceptions import InvalidPromotion
from rewards_service.domain.model import to_money
from rewards_service.domain.points import EARLIEST, LATEST
from shared.application.events import format_timestamp, parse_timestamp
from shared.observability.logging import configure_logging
from shared.persistence.migrations import upgrade

#: no window longer than the whole span of dates a promotion may have (2000 to 2100)
MAX_SEED_DAYS = (LATEST - EARLIEST).days


def _amount(text: str) -> Decimal:
    try:
        return to_money(Decimal(text))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number, e.g. 25.00") from None
    except InvalidPromotion as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= MAX_SEED_DAYS:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_SEED_DAYS} days")
    return days


def _moment(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 date-time, e.g. 2026-12-07T10:00:00Z"
        ) from None


def migrate(_: argparse.Namespace) -> None:
    settings = build_container().config()
    upgrade("rewards_service", settings["database"]["url"])


def seed(args: argparse.Namespace) -> None:
    container = build_container()
    try:
        promotion = container.promotion_service().ensure_welcome_promotion(
            title=args.title,
            amount=args.amount,
            duration=timedelta(days=args.days),
            actor="seed",
        )
    finally:
        container.shutdown_resources()
    created: dict[str, object] = {}
    if promotion is not None:
        created["welcomePromotion"] = {
            "id": promotion.id,
            "title": promotion.title,
            "type": promotion.type.value,
            "amount": f"{promotion.amount:.2f}",
            "startDate": format_timestamp(promotion.start_date),
            "endDate": format_timestamp(promotion.end_date),
        }
    json.dump(created, sys.stdout)
    sys.stdout.write("\n")


def republish_confirmed(args: argparse.Namespace) -> None:
    container = build_container()
    try:
        count = container.confirmation_replay().republish(args.since)
    finally:
        container.shutdown_resources()
    json.dump({"republished": count}, sys.stdout)
    sys.stdout.write("\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="rewards_service.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate").set_defaults(run=migrate)
    seed_parser = commands.add_parser("seed")
    seed_parser.add_argument("--title", default="Welcome Bonus")
    seed_parser.add_argument("--amount", type=_amount, default="25.00")
    seed_parser.add_argument("--days", type=_days, default=365)
    seed_parser.set_defaults(run=seed)
    republish = commands.add_parser("republish-confirmed")
    republish.add_argument(
        "--since", type=_moment, required=True, help="RFC 3339, e.g. 2026-12-07T10:00:00Z"
    )
    republish.set_defaults(run=republish_confirmed)
    args = parser.parse_args(argv)
    configure_logging("rewards-manage", level="WARNING")
    try:
        args.run(args)
    except InvalidPromotion as exc:
        # What the arguments asked for breaks a rule only known with the clock (a window ending
        # after 2100) or the domain's alone (a title): a usage error, as a bad number is.
        seed_parser.error(str(exc))


if __name__ == "__main__":
    main()
