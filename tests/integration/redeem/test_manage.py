"""check-ledger against PostgreSQL: a wallet whose balance differs from its log is reported,
bonus money with its two decimals and points whole, as the wallet shows them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from embedded.services import redis_url_for
from redeem_service import manage
from redeem_service.container import Container
from redeem_service.controllers.consumers import RewardConfirmedHandler
from tests.integration.redeem.conftest import REDEEM_REDIS_DB
from tests.integration.redeem.support import inbound, new_player, reward_confirmed
from tests.support.infra import Infra


@pytest.fixture(autouse=True)
def _environment(
    monkeypatch: pytest.MonkeyPatch, infra: Infra, redeem_database: str, redeem_container: Container
) -> Iterator[None]:
    monkeypatch.setenv("LOYALTY_PROFILE", "test")
    monkeypatch.setenv("DATABASE_URL", redeem_database)
    monkeypatch.setenv("REDIS_URL", redis_url_for(infra.redis_url, REDEEM_REDIS_DB))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    yield
    # The command's own container wired the controllers to itself: back to the session's.
    redeem_container.wire()


def test_check_ledger_reports_points_whole_and_bonus_with_decimals(
    redeem_container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    manage.main(["check-ledger"])
    assert json.loads(capsys.readouterr().out) == {"discrepancies": []}

    player = new_player()
    handler = RewardConfirmedHandler(redeem_container.points_service())
    handler.handle([inbound(reward_confirmed(player, 15), "reward-confirmed")])
    with redeem_container.core.database().begin() as connection:
        # What the check is for: a balance moved without its transaction (never expected).
        connection.execute(
            text(
                "UPDATE wallets SET points_balance = 22, bonus_balance = 10.5 WHERE player_id = :p"
            ),
            {"p": player},
        )

    with pytest.raises(SystemExit) as exited:
        manage.main(["check-ledger"])

    assert exited.value.code == 1
    report = json.loads(capsys.readouterr().out)["discrepancies"]
    assert sorted(report, key=lambda d: d["currency"]) == [
        {"playerId": player, "currency": "BONUS", "balance": "10.50", "transactionsTotal": "0.00"},
        {"playerId": player, "currency": "POINTS", "balance": "22", "transactionsTotal": "15"},
    ]
