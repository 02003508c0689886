"""The rewards unit of work: one PostgreSQL transaction, its repositories, its outbox."""

from __future__ import annotations

from sqlalchemy import Connection

from rewards_service.adapters.persistence.earning import (
    SqlAlchemyEarningRuleRepository,
    SqlAlchemyParkedEventRepository,
    SqlAlchemyPlayerPointsRepository,
    SqlAlchemyRewardEventRepository,
)
from rewards_service.adapters.persistence.repositories import (
    SqlAlchemyPendingCreditRepository,
    SqlAlchemyPlayerPromotionRepository,
    SqlAlchemyPlayerRepository,
    SqlAlchemyPromotionRepository,
)
from rewards_service.application.ports import RewardsUnitOfWork
from shared.persistence.database import SqlAlchemyUnitOfWork


class SqlAlchemyRewardsUnitOfWork(SqlAlchemyUnitOfWork, RewardsUnitOfWork):
    def _bind(self, connection: Connection) -> None:
        self.promotions = SqlAlchemyPromotionRepository(connection)
        self.players = SqlAlchemyPlayerRepository(connection)
        self.player_promotions = SqlAlchemyPlayerPromotionRepository(connection)
        self.earning_rules = SqlAlchemyEarningRuleRepository(connection)
        self.reward_events = SqlAlchemyRewardEventRepository(connection)
        self.player_points = SqlAlchemyPlayerPointsRepository(connection)
        self.parked_events = SqlAlchemyParkedEventRepository(connection)
        self.pending_credits = SqlAlchemyPendingCreditRepository(connection)
