"""Ports the wallet use cases need; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from redeem_service.domain.model import TransactionRequest, WalletTransaction
from redeem_service.domain.ports import (
    RedemptionRepository,
    TransactionRepository,
    WalletRepository,
)
from shared.application.unit_of_work import UnitOfWork


class RedeemUnitOfWork(UnitOfWork):
    wallets: WalletRepository
    transactions: TransactionRepository
    redemptions: RedemptionRepository


class Ledger(ABC):
    """Posts a single transaction that needs nothing else in its database transaction (no
    outbox row), atomically and on its own, outside any unit of work."""

    @abstractmethod
    def post(self, request: TransactionRequest, now: datetime) -> WalletTransaction | None:
        """As :meth:`WalletRepository.post`: the recorded transaction; None, with nothing
        changed, when the idempotency key is taken; InsufficientBalance or
        BalanceLimitExceeded when the balance does not allow it."""
