"""Operations on the wallet service: ``python -m redeem_service.manage <command>``.

migrate                       apply the Alembic migrations
check-ledger                  compare every balance with the sum of its transactions; prints
                              the differences as JSON and exits 1 when there is any
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal

from redeem_service.container import build_container
from redeem_service.domain.model import Currency
from shared.observability.logging import configure_logging
from shared.persistence.migrations import upgrade


def migrate(_: argparse.Namespace) -> None:
    settings = build_container().config()
    upgrade("redeem_service", settings["database"]["url"])


def _amount(currency: Currency, value: Decimal) -> str:
    """As the wallet shows it: bonus money with its two decimals, points whole (a sum of points
    that is not whole, which no transaction can make, is shown as it is)."""
    if currency is Currency.BONUS:
        return f"{value:.2f}"
    return str(int(value)) if value == value.to_integral_value() else str(value)


def check_ledger(args: argparse.Namespace) -> None:
    container = build_container()
    with container.uow() as uow:
        found = uow.transactions.discrepancies(limit=args.limit)
    container.shutdown_resources()
    report = [
        {
            "playerId": d.player_id,
            "currency": d.currency.value,
            "balance": _amount(d.currency, d.balance),
            "transactionsTotal": _amount(d.currency, d.transactions_total),
        }
        for d in found
    ]
    json.dump({"discrepancies": report}, sys.stdout)
    sys.stdout.write("\n")
    if report:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="redeem_service.manage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate").set_defaults(run=migrate)
    ledger = commands.add_parser("check-ledger")
    ledger.add_argument("--limit", type=int, default=100)
    ledger.set_defaults(run=check_ledger)
    args = parser.parse_args(argv)
    configure_logging("redeem-manage", level="WARNING")
    args.run(args)


if __name__ == "__main__":
    main()
