"""Ports the promotions use cases need; adapters implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rewards_service.domain.ports import (
    PlayerPromotionRepository,
    PlayerRepository,
    PromotionRepository,
)
from shared.application.unit_of_work import UnitOfWork


class RewardsUnitOfWork(UnitOfWork):
    promotions: PromotionRepository
    players: PlayerRepository
    player_promotions: PlayerPromotionRepository


@dataclass(frozen=True, slots=True)
class WalletCredit:
    """What the wallet recorded for a credit (or had recorded before, for a replayed key)."""

    transaction_id: str
    bonus_balance: Decimal
    replayed: bool


class WalletGateway(ABC):
    """The player wallet (redeem_service), reached synchronously for claims."""

    @abstractmethod
    def credit_bonus(
        self,
        player_id: str,
        amount: Decimal,
        description: str,
        additional_data: Mapping[str, str],
        idempotency_key: str,
    ) -> WalletCredit:
        """Credit bonus money once per ``idempotency_key``: calling again with the same key
        returns the first result. Raises WalletUnavailable when the wallet cannot be reached (it
        may or may not have recorded the credit; retrying with the same key is safe) and
        WalletRefused when it answered no."""
