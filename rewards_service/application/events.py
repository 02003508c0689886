"""Integration events rewards publishes (schemas in docs/events/)."""

from __future__ import annotations

import uuid
from datetime import datetime

from rewards_service.application.ports import WalletCredit
from rewards_service.domain.ledger import RecordedEvent
from rewards_service.domain.model import AssignmentSource, Claim, PlayerPromotion, Promotion
from shared.application.events import IntegrationEvent, format_timestamp

#: REWARD_CONFIRMED ids derive from the source event id: one source event, one confirmation id,
#: whoever computes it and however often (the outbox refuses a second row with the same id).
REWARD_CONFIRMED_NAMESPACE = uuid.UUID("6f1d6a52-3c1e-4f4e-9d55-0b8c2f7a9e31")


def promotion_assigned(assignment: PlayerPromotion, promotion: Promotion) -> IntegrationEvent:
    """PROMOTION on ``notifications``: the player was given ``promotion``."""
    content: dict[str, object] = {
        "promotionId": promotion.id,
        "playerPromotionId": assignment.id,
        "title": promotion.title,
        "type": promotion.type.value,
        "amount": f"{promotion.amount:.2f}",
        "startDate": format_timestamp(promotion.start_date),
        "endDate": format_timestamp(promotion.end_date),
        "source": assignment.source.value,
    }
    if promotion.description:
        content["description"] = promotion.description
    welcome = assignment.source is AssignmentSource.WELCOME
    return IntegrationEvent(
        event_type="PROMOTION",
        user_id=assignment.player_id,
        data={
            "title": "Welcome to the club!" if welcome else "You have a new promotion",
            "message": f"{promotion.title}: {promotion.amount:.2f} bonus, "
            f"valid until {format_timestamp(promotion.end_date)}.",
            "content": content,
        },
        occurred_at=assignment.assigned_at,
    )


def reward_confirmed(record: RecordedEvent, now: datetime) -> IntegrationEvent:
    """REWARD_CONFIRMED on ``reward-confirmed``: the points ``record`` awarded (negative for a
    reversal, 0 for a repeated reversal); the wallet applies them once per sourceEventId."""
    event = record.event
    data: dict[str, object] = {
        "pointsAwarded": record.points,
        "sourceEventId": event.event_id,
        "sourceEventType": event.event_type.value,
        "partnerId": event.partner_id,
    }
    if record.rule_version is not None:
        data["ruleVersion"] = record.rule_version
    if event.reference is not None:
        data["reference"] = event.reference
    return IntegrationEvent(
        event_type="REWARD_CONFIRMED",
        user_id=event.player_id,
        data=data,
        event_id=str(uuid.uuid5(REWARD_CONFIRMED_NAMESPACE, event.event_id)),
        occurred_at=now,
        correlation_id=event.correlation_id,
    )


def bonus_credited(claim: Claim, credit: WalletCredit | None) -> IntegrationEvent:
    """BONUS_CREDITED on ``notifications``: a claimed promotion's bonus reached the wallet."""
    promotion, assignment = claim.promotion, claim.assignment
    content: dict[str, object] = {
        "promotionId": promotion.id,
        "playerPromotionId": assignment.id,
        "title": promotion.title,
        "amount": f"{claim.amount:.2f}",
        "currency": "BONUS",
    }
    if credit is not None:
        content["transactionId"] = credit.transaction_id
        content["balance"] = f"{credit.bonus_balance:.2f}"
    return IntegrationEvent(
        event_type="BONUS_CREDITED",
        user_id=assignment.player_id,
        data={
            "title": "Bonus credited",
            "message": f"{claim.amount:.2f} from {promotion.title} is in your wallet.",
            "content": content,
        },
        occurred_at=assignment.last_claimed_at or promotion.updated_at,
    )
