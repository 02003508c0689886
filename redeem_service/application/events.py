"""Integration events the wallet publishes (schemas in docs/events/)."""

from __future__ import annotations

from typing import Any

from redeem_service.domain.model import TransactionType, WalletTransaction, format_amount
from redeem_service.domain.redemption import Redemption, RedemptionStatus
from shared.application.events import IntegrationEvent


def wallet_adjusted(transaction: WalletTransaction) -> IntegrationEvent:
    """The notification a player receives when staff adjusted one of their balances."""
    verb = "credited to" if transaction.kind is TransactionType.CREDIT else "debited from"
    currency = transaction.currency.value
    return IntegrationEvent(
        event_type="WALLET_ADJUSTED",
        user_id=transaction.player_id,
        occurred_at=transaction.created_at,
        data={
            "title": "Your wallet was adjusted",
            "message": f"{transaction.amount} {currency} {verb} your wallet: "
            f"{transaction.description}"[:1000],
            "content": {
                "transactionId": transaction.id,
                "currency": currency,
                "type": transaction.kind.value,
                "amount": str(transaction.amount),
                "balance": format_amount(transaction.currency, transaction.balance_after),
                "reason": transaction.description,
            },
        },
    )


def redeem_requested(redemption: Redemption) -> IntegrationEvent:
    """``redeem-events``: a request accepted by the API, decided by the worker."""
    data: dict[str, Any] = {
        "redeemRequestId": redemption.id,
        "points": redemption.points,
        "rewardDescription": redemption.reward_description,
        "requestedBy": redemption.requested_by,
    }
    if redemption.merchant is not None:
        data["merchant"] = redemption.merchant.to_dict()
    return IntegrationEvent(
        event_type="REDEEM_REQUESTED",
        user_id=redemption.player_id,
        occurred_at=redemption.created_at,
        data=data,
    )


def redemption_decided(
    redemption: Redemption, correlation_id: str | None = None
) -> IntegrationEvent:
    """``redeem-confirmed``: the outcome of a redemption (the player is notified of it)."""
    data: dict[str, Any] = {
        "redeemRequestId": redemption.id,
        "status": redemption.status.value,
        "points": redemption.points,
        "rewardDescription": redemption.reward_description,
        "requestedBy": redemption.requested_by,
    }
    if redemption.points_balance is not None:
        data["pointsBalance"] = redemption.points_balance
    if redemption.status is RedemptionStatus.CONFIRMED:
        event_type = "REDEMPTION_CONFIRMED"
        data["transactionId"] = redemption.transaction_id
    else:
        event_type = "REDEMPTION_REJECTED"
        data["reason"] = redemption.reason.value if redemption.reason else None
        data["message"] = redemption.rejection_message
    return IntegrationEvent(
        event_type=event_type,
        user_id=redemption.player_id,
        occurred_at=redemption.decided_at or redemption.created_at,
        correlation_id=correlation_id,
        data=data,
    )
