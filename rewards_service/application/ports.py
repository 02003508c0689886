"""Ports the rewards use cases need; adapters implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from rewards_service.domain.points import PointsSummary
from rewards_service.domain.ports import (
    EarningRuleRepository,
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
