"""Ports the promotions use cases need; adapters implement them."""

from __future__ import annotations

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
