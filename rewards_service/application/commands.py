"""Commands the web edge and the consumers hand to the promotions use cases, and their results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rewards_service.domain.model import (
    AssignmentSource,
    PlayerPromotionStatus,
    Promotion,
    PromotionType,
)


@dataclass(frozen=True, slots=True)
class CreatePromotion:
    title: str
    type: PromotionType
    amount: Decimal
    start_date: datetime
    end_date: datetime
    description: str = ""
    is_active: bool = True
    max_claims: int | None = None
    max_claims_per_player: int = 1


@dataclass(frozen=True, slots=True)
class RevisePromotion:
    """Only what is given changes."""

    is_active: bool | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class PlayerRegistration:
    """A PLAYER_REGISTERED event, checked at the edge."""

    event_id: str
    player_id: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class AssignmentResult:
    promotion_id: str
    assigned: list[str]
    already_assigned: list[str]


@dataclass(frozen=True, slots=True)
class PlayerPromotionView:
    """One of a player's promotions with its status as of the read."""

    id: str
    player_id: str
    status: PlayerPromotionStatus
    source: AssignmentSource
    claim_count: int
    claims_remaining: int
    assigned_at: datetime
    last_claimed_at: datetime | None
    promotion: Promotion
