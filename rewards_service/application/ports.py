"""Ports the rewards use cases need; adapters implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from rewards_service.domain.points import PointsSummary
from rewards_service.domain.ports import (
    EarningRuleRepository,
    ParkedEventRepository,
    PendingCredit,
    PendingCreditRepository,
    PlayerPointsRepository,
    PlayerPromotionRepository,
    PlayerRepository,
    PromotionRepository,
    RewardEventRepository,
)
from shared.application.unit_of_work import UnitOfWork


class RewardsUnitOfWork(UnitOfWork):
    promotions: PromotionRepository
    players: PlayerRepository
    player_promotions: PlayerPromotionRepository
    earning_rules: EarningRuleRepository
    reward_events: RewardEventRepository
    player_points: PlayerPointsRepository
    parked_events: ParkedEventRepository
    pending_credits: PendingCreditRepository


class PointsCache(ABC):
    """Recent points answers per player. A player's generation changes whenever new events
    count for them; answers are stored under the generation read before computing them, so
    an answer computed before a change is never served after it."""

    @abstractmethod
    def generation(self, player_id: str) -> str: ...

    @abstractmethod
    def get(self, player_id: str, generation: str, query: str) -> PointsSummary | None: ...

    @abstractmethod
    def put(self, player_id: str, generation: str, query: str, summary: PointsSummary) -> None: ...

    @abstractmethod
    def invalidate(self, player_ids: Collection[str]) -> None:
        """Move the players to a new generation (after the events were committed)."""


class EventContracts(ABC):
    """The published event contracts (JSON Schemas in docs/events)."""

    @abstractmethod
    def problem(self, message: Mapping[str, Any]) -> str | None:
        """Why ``message`` breaks its contract, or None when it keeps it."""


class PartnerEventPublisher(ABC):
    @abstractmethod
    def publish(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Hand the events to the broker (key = player id) and wait for its acknowledgement;
        raises EventBrokerUnavailable when any of them was not acknowledged."""


@dataclass(frozen=True, slots=True)
class WalletCredit:
    """What the wallet recorded for a credit (or had recorded before, for a replayed key)."""

    transaction_id: str
    bonus_balance: Decimal
    replayed: bool


@dataclass(frozen=True, slots=True)
class RecordedCredit:
    """A bonus credit as the wallet recorded it under an idempotency key."""

    transaction_id: str
    player_id: str
    amount: Decimal
    bonus_balance: Decimal
    created_at: datetime


class CreditNotes(ABC):
    """Where a claim notes the wallet credit it is about to ask for (ADR 0014)."""

    @abstractmethod
    def note(self, pending: PendingCredit) -> None:
        """Keep the note at once, whatever becomes of the caller's transaction; a note of the
        same key kept before keeps its first time."""


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

    @abstractmethod
    def recorded_credit(self, idempotency_key: str) -> RecordedCredit | None:
        """The bonus credit this service recorded under ``idempotency_key``, or None when the
        wallet recorded none. Raises WalletUnavailable when the wallet cannot say."""
