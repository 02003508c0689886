"""Rules the rewards database enforces by itself, whatever the code or the concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from rewards_service.application.commands import CreatePromotion
from rewards_service.container import Container
from rewards_service.domain.exceptions import OverlappingPromotion
from rewards_service.domain.model import Promotion, PromotionType
from shared.domain.principal import Principal, Role

NOW = datetime.now(UTC)
STAFF = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)


def welcome(days: int = 30) -> CreatePromotion:
    return CreatePromotion(
        title="Welcome",
        type=PromotionType.WELCOME_BONUS,
        amount=Decimal("25.00"),
        start_date=NOW,
        end_date=NOW + timedelta(days=days),
    )


def test_concurrent_overlapping_welcome_promotions_leave_exactly_one(
    rewards_container: Container,
) -> None:
    service = rewards_container.promotion_service()
    created: list[Promotion] = []
    refused: list[BaseException] = []
    barrier = threading.Barrier(6)

    def create(days: int) -> None:
        barrier.wait()
        try:
            created.append(service.create(welcome(days), STAFF))
        except OverlappingPromotion as exc:
            refused.append(exc)

    threads = [threading.Thread(target=create, args=(10 + i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert len(refused) == 5


def _insert(container: Container, **values: object) -> None:
    row: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "title": "Raw",
        "type": "BONUS",
        "amount": Decimal("1.00"),
        "is_active": True,
        "start_date": NOW,
        "end_date": NOW + timedelta(days=1),
        "max_claims": None,
        "claims_count": 0,
        **values,
    }
    with container.core.database().begin() as connection:
        connection.execute(
            text(
                "INSERT INTO promotions (id, title, type, amount, is_active, start_date, end_date,"
                " max_claims, claims_count) VALUES (:id, :title, :type, :amount, :is_active,"
                " :start_date, :end_date, :max_claims, :claims_count)"
            ),
            row,
        )


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"amount": Decimal("1.005")}, "ck_promotions_amount"),
        ({"amount": Decimal("-0.01")}, "ck_promotions_amount"),
        ({"end_date": NOW}, "ck_promotions_period"),
        ({"max_claims": 0}, "ck_promotions_max_claims"),
        ({"max_claims": 2, "claims_count": 3}, "ck_promotions_claims_count"),
        ({"type": "LOTTERY"}, "ck_promotions_type"),
        ({"title": "   "}, "ck_promotions_title"),
    ],
)
def test_check_constraints_refuse_what_the_domain_would(
    rewards_container: Container, values: dict[str, object], constraint: str
) -> None:
    with pytest.raises(IntegrityError, match=constraint):
        _insert(rewards_container, **values)


def test_an_overlapping_active_welcome_row_is_refused_even_in_raw_sql(
    rewards_container: Container,
) -> None:
    _insert(rewards_container, type="WELCOME_BONUS")
    with pytest.raises(IntegrityError, match="ex_promotions_welcome_bonus_overlap"):
        _insert(rewards_container, type="WELCOME_BONUS", start_date=NOW + timedelta(hours=1))
    _insert(rewards_container, type="WELCOME_BONUS", is_active=False)


def test_the_demo_welcome_promotion_is_created_once(rewards_container: Container) -> None:
    service = rewards_container.promotion_service()
    first = service.ensure_welcome_promotion(
        "Welcome Bonus", Decimal("25.00"), timedelta(days=365), "seed"
    )
    assert first is not None
    assert first.is_running(datetime.now(UTC))
    assert first.amount == Decimal("25.00")
    again = service.ensure_welcome_promotion(
        "Welcome Bonus", Decimal("25.00"), timedelta(days=365), "seed"
    )
    assert again is None
