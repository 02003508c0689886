"""The seed command against PostgreSQL: it makes a welcome promotion the API would accept, and
answers arguments that would break one with a usage error, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from embedded.services import redis_url_for
from rewards_service import manage
from rewards_service.container import Container
from rewards_service.domain.model import PromotionType
from rewards_service.domain.ports import PromotionFilter
from shared.domain.pagination import PageRequest
from tests.integration.rewards.conftest import REDIS_DB
from tests.support.infra import Infra


@pytest.fixture(autouse=True)
def _environment(
    monkeypatch: pytest.MonkeyPatch,
    infra: Infra,
    rewards_database: str,
    rewards_container: Container,
) -> Iterator[None]:
    monkeypatch.setenv("LOYALTY_PROFILE", "test")
    monkeypatch.setenv("DATABASE_URL", rewards_database)
    monkeypatch.setenv("REDIS_URL", redis_url_for(infra.redis_url, REDIS_DB))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap)
    yield
    # The command's own container wired the controllers to itself: give them back to the
    # session's (the other tests' overrides live there).
    rewards_container.wire()


def welcome_promotions(container: Container) -> int:
    with container.uow() as uow:
        found = uow.promotions.list(
            PromotionFilter(type=PromotionType.WELCOME_BONUS), PageRequest()
        )
    return found.total


def test_seed_makes_one_running_welcome_promotion(
    rewards_container: Container, capsys: pytest.CaptureFixture[str]
) -> None:
    manage.main(["seed", "--amount", "10.5", "--days", "30"])
    made = json.loads(capsys.readouterr().out)["welcomePromotion"]
    assert (made["type"], made["amount"]) == ("WELCOME_BONUS", "10.50")
    manage.main(["seed"])
    assert json.loads(capsys.readouterr().out) == {}
    assert welcome_promotions(rewards_container) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--amount", "abc"], "not a number"),
        (["--amount", "1.005"], "2 decimal places"),
        (["--amount", "-5"], "between 0.00"),
        (["--amount", "NaN"], "between 0.00"),
        (["--days", "0"], "1 to 36525 days"),
        (["--days", "100000"], "1 to 36525 days"),
        (["--days", "ten"], "whole number"),
        # Fits the option, not the calendar: it would end after 2100-01-01.
        (["--days", "36000"], "2100-01-01"),
        (["--title", "\u200b"], "visible character"),
    ],
)
def test_seed_arguments_a_promotion_could_not_have_are_a_usage_error(
    rewards_container: Container,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    with pytest.raises(SystemExit) as exited:
        manage.main(["seed", *arguments])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "usage:" in error
    assert message in error
    assert welcome_promotions(rewards_container) == 0


def test_republish_refuses_an_unreadable_moment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        manage.main(["republish-confirmed", "--since", "yesterday"])
    assert exited.value.code == 2
    assert "RFC 3339" in capsys.readouterr().err
