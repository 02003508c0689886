"""Commands the web edge and the consumers hand to the rewards use cases, and their results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rewards_service.domain.earning import EarningParameters, EarningRule, EarningType
from rewards_service.domain.ledger import RecordedEvent, Refusal
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


@dataclass(frozen=True, slots=True)
class ScheduleEarningRule:
    earning_type: EarningType
    effective_from: datetime
    parameters: EarningParameters


class RuleStatus(StrEnum):
    CURRENT = "CURRENT"
    SCHEDULED = "SCHEDULED"
    SUPERSEDED = "SUPERSEDED"
    #: taken back before it took effect; it never priced anything
    WITHDRAWN = "WITHDRAWN"


@dataclass(frozen=True, slots=True)
class EarningRuleView:
    """A rule version and where it stands at the time of the read."""

    rule: EarningRule
    status: RuleStatus


@dataclass(frozen=True, slots=True)
class EarningResult:
    """What one batch of partner events came to."""

    #: events refused (dead-lettered by the consumer)
    refused: list[Refusal] = field(default_factory=list)
    #: events of players not registered yet, parked until they are
    parked: int = 0
    #: REWARD_CONFIRMED events written
    confirmed: int = 0
    #: reversals now waiting for their original
    pending: int = 0
    #: events already recorded (redelivered)
    replayed: int = 0
    #: pending reversals of earlier batches refused now that their original arrived
    rejected_later: list[RecordedEvent] = field(default_factory=list)
