"""Repository ports of the rewards domain; adapters implement them over PostgreSQL."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from rewards_service.domain.earning import (
    EarningRule,
    EarningSource,
    ParkedEvent,
    PartnerEvent,
)
from rewards_service.domain.ledger import LedgerContext, PointsIncrement, RecordedEvent
from rewards_service.domain.model import (
    AssignedPromotion,
    Player,
    PlayerPromotion,
    PlayerPromotionStatus,
    Promotion,
    PromotionType,
)
from rewards_service.domain.points import SourceTotal, WindowPlan
from shared.domain.pagination import Page, PageRequest


class Lock(Enum):
    """How a read holds the row until the transaction ends."""

    NONE = "none"
    SHARE = "share"  # others may read and share-lock it, nobody may change it
    UPDATE = "update"  # we are about to change it
    UPDATE_SKIP_LOCKED = "update-skip-locked"  # as UPDATE; a row another holds is not returned


@dataclass(frozen=True, slots=True)
class PromotionFilter:
    type: PromotionType | None = None
    active: bool | None = None
    #: promotions whose window overlaps [window_from, window_to)
    window_from: datetime | None = None
    window_to: datetime | None = None
    #: case-insensitive substring of the title or the description
    text: str | None = None


@dataclass(frozen=True, slots=True)
class PlayerPromotionFilter:
    status: PlayerPromotionStatus | None = None
    type: PromotionType | None = None


class PromotionRepository(ABC):
    @abstractmethod
    def add(self, promotion: Promotion) -> None:
        """Insert; raises OverlappingPromotion when an active one of a unique type overlaps."""

    @abstractmethod
    def get(self, promotion_id: str, lock: Lock = Lock.NONE) -> Promotion | None: ...

    @abstractmethod
    def hold(self, promotion_id: str, exclusive: bool = False) -> None:
        """Until the transaction ends: claims hold the promotion shared (they do not wait for
        each other), staff changing it exclusively. Queued fairly: a change waits for the
        claims in flight, and claims coming after it wait for the change."""

    @abstractmethod
    def count_claim(self, promotion_id: str, within_limit: bool = True) -> bool:
        """Add one claim to the promotion's counter, atomically and only within its total
        limit; False when the limit is reached. ``within_limit=False`` counts a claim the
        wallet already credited, whatever the limit."""

    @abstractmethod
    def update(self, promotion: Promotion) -> None:
        """Store changes; raises OverlappingPromotion like :meth:`add`."""

    @abstractmethod
    def list(self, filters: PromotionFilter, page: PageRequest) -> Page[Promotion]: ...

    @abstractmethod
    def running(
        self, promotion_type: PromotionType, now: datetime, lock: Lock = Lock.NONE
    ) -> Promotion | None:
        """The promotion of ``promotion_type`` active at ``now`` (of a unique type, the one)."""


class PlayerRepository(ABC):
    @abstractmethod
    def add_new(self, players: Sequence[Player]) -> set[str]:
        """Record players; those already known are left as they are. Returns the ids of those
        recorded now."""

    @abstractmethod
    def known(self, player_ids: Collection[str]) -> set[str]:
        """Which of ``player_ids`` are registered players."""


class PlayerPromotionRepository(ABC):
    @abstractmethod
    def add_new(self, assignments: Sequence[PlayerPromotion]) -> list[PlayerPromotion]:
        """Insert the assignments a player does not hold yet; return those inserted."""

    @abstractmethod
    def exists(self, player_id: str, promotion_id: str) -> bool: ...

    @abstractmethod
    def get_for_player(
        self, player_id: str, promotion_id: str, lock: Lock = Lock.NONE
    ) -> PlayerPromotion | None:
        """The player's assignment of the promotion (locked as asked)."""

    @abstractmethod
    def update(self, assignment: PlayerPromotion) -> None:
        """Store a claim's changes (status, claim count, last claim time)."""

    @abstractmethod
    def list_for_player(
        self,
        player_id: str,
        filters: PlayerPromotionFilter,
        page: PageRequest,
        now: datetime,
    ) -> Page[AssignedPromotion]:
        """The player's assignments, newest first; the status filter is evaluated at ``now``."""


class EarningRuleRepository(ABC):
    @abstractmethod
    def revision(self, lock: Lock = Lock.NONE) -> int:
        """A number that changes whenever a rule version is added or withdrawn.

        ``Lock.SHARE`` keeps versions from being added until the transaction ends (events are
        priced under it); ``Lock.UPDATE`` waits for those transactions and keeps others out (a
        version is added under it)."""

    @abstractmethod
    def list(self) -> list[EarningRule]:
        """Every version of every rule, withdrawn ones with when and by whom."""

    @abstractmethod
    def add(self, rule: EarningRule) -> None: ...

    @abstractmethod
    def withdraw(self, rule: EarningRule) -> None:
        """Record that ``rule`` (with ``withdrawn_at`` set) was withdrawn."""


class RewardEventRepository(ABC):
    """Canonical partner events, each stored once with what it was awarded."""

    @abstractmethod
    def lock_players(self, player_ids: Collection[str]) -> None:
        """Until the transaction ends, no other transaction prices these players' events: an
        original and its reversal consumed at once (from two partitions, when producers hash
        the player's key differently) each see the other, or the one first committed."""

    @abstractmethod
    def recorded(self, event_ids: Collection[str]) -> dict[str, PartnerEvent]:
        """Those of ``event_ids`` recorded already, as they were received (by eventId)."""

    @abstractmethod
    def rejected(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` recorded and then rejected (a reversal that found no
        original, or not its own, ADR 0502)."""

    @abstractmethod
    def ledger_context(
        self, original_ids: Collection[str], earning_ids: Collection[str]
    ) -> LedgerContext:
        """Recorded events named by ``original_ids``, which of them are reversed already, and
        the pending reversals waiting for ``earning_ids``."""

    @abstractmethod
    def add_all(self, records: Sequence[RecordedEvent], now: datetime) -> set[str]:
        """Insert the records not stored yet; return the ids inserted."""

    @abstractmethod
    def settle(self, records: Sequence[RecordedEvent], now: datetime) -> int:
        """Store the decision on pending reversals still pending; return how many were."""

    @abstractmethod
    def confirmed_since(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, RecordedEvent]]:
        """Up to ``limit`` events confirmed (awarded) at or after ``since``, with when, in the
        order they were, after the (awarded at, event id) ``after`` when given: one page of a
        walk."""

    @abstractmethod
    def expire_pending_reversals(
        self, recorded_before: datetime, limit: int
    ) -> list[RecordedEvent]:
        """Reject up to ``limit`` reversals recorded before ``recorded_before`` and still
        waiting for their original (their players' events locked first, as pricing does);
        return them, now REJECTED."""


@dataclass(frozen=True, slots=True)
class PendingCredit:
    """A wallet credit a claim was about to ask for (its idempotency key and whose claim)."""

    idempotency_key: str
    player_id: str
    promotion_id: str
    claim_number: int
    noted_at: datetime


class PendingCreditRepository(ABC):
    """Notes of wallet credits asked for by claims not committed yet (ADR 0014)."""

    @abstractmethod
    def remove(self, idempotency_key: str) -> bool:
        """Remove the note; False when there was none."""

    @abstractmethod
    def due(self, noted_before: datetime, limit: int) -> list[PendingCredit]:
        """Up to ``limit`` notes older than ``noted_before``, oldest first."""

    @abstractmethod
    def count(self) -> int:
        """How many notes are left."""


class ParkedEventRepository(ABC):
    """Partner events waiting for their player's registration."""

    @abstractmethod
    def park(self, events: Sequence[PartnerEvent], now: datetime) -> None:
        """Keep ``events``; one parked already keeps its first time."""

    @abstractmethod
    def payloads(self, event_ids: Collection[str]) -> dict[str, Mapping[str, Any]]:
        """The messages of the events among ``event_ids`` that are parked, by eventId."""

    @abstractmethod
    def release(self, limit: int) -> list[ParkedEvent]:
        """Remove and return, in the order they were parked, up to ``limit`` events whose
        player is registered now (rows another sweep holds are skipped)."""

    @abstractmethod
    def expire(self, parked_before: datetime, limit: int) -> list[ParkedEvent]:
        """Remove and return up to ``limit`` events parked before ``parked_before`` whose
        player is still unknown."""

    @abstractmethod
    def count(self) -> int:
        """How many events are waiting."""


class PlayerPointsRepository(ABC):
    """Per player, source, day and month totals, kept with the events that make them."""

    @abstractmethod
    def add(self, increments: Sequence[PointsIncrement]) -> None: ...

    @abstractmethod
    def totals(self, player_id: str, plan: WindowPlan) -> dict[EarningSource, SourceTotal]:
        """The player's totals over the planned period: whole months and days from the stored
        totals, the partial edges from the recorded events."""
