"""Integration events the wallet publishes (schemas in docs/events/)."""

from __future__ import annotations

from redeem_service.domain.model import TransactionType, WalletTransaction, format_amount
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
