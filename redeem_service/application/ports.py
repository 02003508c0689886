"""Ports the wallet use cases need; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from redeem_service.domain.model import TransactionRequest, WalletTransaction
from redeem_service.domain.ports import (
    PlayerRepository,
    RedemptionRepository,
    TransactionRepository,
    WalletRepository,
)
from redeem_service.domain.redemption import Redemption
from shared.application.events import IntegrationEvent
from shared.application.unit_of_work import UnitOfWork


class RedeemUnitOfWork(UnitOfWork):
    players: PlayerRepository
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


class RedemptionIntake(ABC):
    """Stores a new redemption request and its event atomically and on its own, outside any
    unit of work (the REST hot path)."""

    @abstractmethod
    def accept(self, redemption: Redemption, event: IntegrationEvent) -> bool:
        """Store the PENDING ``redemption`` and ``event`` (for ``redeem-events``) in the outbox,
        both or neither: False, with nothing written, when the requester already used the
        redemption's idempotency key."""
