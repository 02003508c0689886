"""Integration events the promotions publish (schemas in docs/events/)."""

from __future__ import annotations

from rewards_service.application.ports import WalletCredit
from rewards_service.domain.model import AssignmentSource, Claim, PlayerPromotion, Promotion
from shared.application.events import IntegrationEvent, format_timestamp


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
