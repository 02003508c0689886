"""Points and redemption events become the player's notifications (reward-confirmed and
redeem-confirmed sources)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from notification_service.application.services import NotificationIngestion, SourcedEvent
from notification_service.application.sources import (
    NOTIFICATION_SOURCES,
    from_redemption_outcome,
    from_reward_confirmed,
)
from notification_service.domain.exceptions import InvalidNotification
from shared.application.events import IntegrationEvent
from shared.messaging.schemas import event_schemas
from tests.unit.notification.fakes import InMemoryNotificationRepository, RecordingLiveChannel

NOW = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
SOURCE_ID = "6f1c3c1e-1f7a-4a7e-9d59-0c8f3d1c2b10"
REQUEST_ID = "0b6a7c5e-3f0f-4f44-8f5a-6f9a1b2c3d4e"


def event(event_type: str, **data: Any) -> IntegrationEvent:
    built = IntegrationEvent(
        event_type, "player-1", data, event_id=str(uuid.uuid4()), occurred_at=NOW
    )
    event_schemas().validate(built.to_message())  # only events the producers may publish
    return built


def reward(points: int, source_type: str = "HOTEL_STAY") -> IntegrationEvent:
    return event(
        "REWARD_CONFIRMED",
        pointsAwarded=points,
        sourceEventId=SOURCE_ID,
        sourceEventType=source_type,
        ruleVersion=1,
        partnerId="hotel",
        reference="folio-77",
    )


def test_points_earned_tell_the_player_how_many_and_for_what() -> None:
    draft = from_reward_confirmed(reward(1500))
    assert draft is not None
    assert draft.type == "POINTS_EARNED"
    assert draft.user_id == "player-1"
    assert draft.created_at == NOW
    assert draft.content == {
        "points": 1500,
        "sourceEventType": "HOTEL_STAY",
        "sourceEventId": SOURCE_ID,
        "partnerId": "hotel",
        "reference": "folio-77",
    }
    assert draft.message == "You earned 1,500 points for your hotel stay."


def test_points_reversed_warn_that_the_balance_may_go_below_zero() -> None:
    draft = from_reward_confirmed(reward(-40, "DINING_REVERSED"))
    assert draft is not None
    assert draft.type == "POINTS_REVERSED"
    assert draft.content["points"] == -40
    assert draft.message is not None
    assert draft.message.startswith("40 points earned for a refunded dining check were taken back")
    assert "below zero" in draft.message


def test_a_zero_award_is_not_worth_a_notification() -> None:
    assert from_reward_confirmed(reward(0)) is None
    repository = InMemoryNotificationRepository()
    ingestion = NotificationIngestion(repository, RecordingLiveChannel())
    result = ingestion.ingest(
        [SourcedEvent("reward-confirmed", reward(0)), SourcedEvent("reward-confirmed", reward(3))]
    )
    assert (result.stored, result.duplicates) == (1, 0)


def test_a_confirmed_redemption_says_what_was_redeemed_and_the_balance() -> None:
    draft = from_redemption_outcome(
        event(
            "REDEMPTION_CONFIRMED",
            redeemRequestId=REQUEST_ID,
            status="CONFIRMED",
            points=500,
            rewardDescription="Dinner for two",
            pointsBalance=1200,
            transactionId="t-1",
            requestedBy="player-1",
        )
    )
    assert draft.type == "REDEMPTION_CONFIRMED"
    assert draft.content == {
        "redeemRequestId": REQUEST_ID,
        "points": 500,
        "reward": "Dinner for two",
        "balance": 1200,
    }
    assert draft.title == "Redemption confirmed"
    assert draft.message == (
        "You redeemed 500 points for Dinner for two. Your points balance is 1,200."
    )


def test_a_rejected_redemption_gives_the_reason() -> None:
    draft = from_redemption_outcome(
        event(
            "REDEMPTION_REJECTED",
            redeemRequestId=REQUEST_ID,
            status="REJECTED",
            points=500,
            rewardDescription="Spa day",
            pointsBalance=-20,
            reason="INSUFFICIENT_POINTS",
            message="The points balance (-20) is lower than the 500 points this reward needs.",
        )
    )
    assert draft.type == "REDEMPTION_REJECTED"
    assert draft.content["reason"] == "INSUFFICIENT_POINTS"
    assert draft.content["balance"] == -20
    assert draft.message is not None
    assert "You do not have enough points" in draft.message


@pytest.mark.parametrize(
    ("mapper", "bad"),
    [
        (from_reward_confirmed, IntegrationEvent("PROMOTION", "p", {"content": {}})),
        (from_reward_confirmed, IntegrationEvent("REWARD_CONFIRMED", "p", {"pointsAwarded": "5"})),
        (from_redemption_outcome, IntegrationEvent("REDEEM_REQUESTED", "p", {"points": 5})),
        (from_redemption_outcome, IntegrationEvent("REDEMPTION_CONFIRMED", "p", {"points": 1.5})),
    ],
)
def test_events_that_are_not_these_notifications_are_refused(mapper: Any, bad: Any) -> None:
    with pytest.raises(InvalidNotification):
        mapper(bad)


def test_the_worker_follows_both_topics() -> None:
    assert NOTIFICATION_SOURCES["reward-confirmed"] is from_reward_confirmed
    assert NOTIFICATION_SOURCES["redeem-confirmed"] is from_redemption_outcome
