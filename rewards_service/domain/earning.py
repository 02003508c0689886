"""Earning points: partner events, the versioned earning rules and how a rule prices an event."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from rewards_service.domain.exceptions import (
    EarningRuleInEffect,
    EarningRuleNotFound,
    EarningRuleScheduleConflict,
    InvalidEarningRule,
    InvalidPartnerEvent,
)

#: REWARD_CONFIRMED carries at most this many points either way (its schema says so too).
MAX_POINTS_PER_EVENT = 100_000_000
MAX_RULE_POINTS = 100_000
MIN_UNIT_AMOUNT = Decimal("0.01")
MAX_UNIT_AMOUNT = Decimal("1000000.00")
UNIT_QUANTUM = Decimal("0.01")


class EarningSource(StrEnum):
    """Where points come from; a query's breakdown is by source (reversals netted in)."""

    HOTEL = "HOTEL"
    CASINO = "CASINO"
    DINING = "DINING"


class EarningType(StrEnum):
    """Partner events that earn points; each has its own versioned rule."""

    HOTEL_STAY = "HOTEL_STAY"
    CASINO_SPEND = "CASINO_SPEND"
    DINING = "DINING"

    @property
    def source(self) -> EarningSource:
        return _SOURCES[self]


_SOURCES = {
    EarningType.HOTEL_STAY: EarningSource.HOTEL,
    EarningType.CASINO_SPEND: EarningSource.CASINO,
    EarningType.DINING: EarningSource.DINING,
}


class PartnerEventType(StrEnum):
    HOTEL_STAY = "HOTEL_STAY"
    CASINO_SPEND = "CASINO_SPEND"
    DINING = "DINING"
    HOTEL_STAY_REVERSED = "HOTEL_STAY_REVERSED"
    CASINO_SPEND_REVERSED = "CASINO_SPEND_REVERSED"
    DINING_REVERSED = "DINING_REVERSED"

    @property
    def is_reversal(self) -> bool:
        return self in _REVERSALS

    @property
    def earning_type(self) -> EarningType:
        """The earning this event is (or, for a reversal, takes back)."""
        return _EARNING_TYPES[self]

    @property
    def source(self) -> EarningSource:
        return _SOURCES[_EARNING_TYPES[self]]


_EARNING_TYPES = {t: EarningType(t.value.removesuffix("_REVERSED")) for t in PartnerEventType}
_REVERSALS = frozenset(t for t in PartnerEventType if t.value.endswith("_REVERSED"))


@dataclass(frozen=True, slots=True)
class PartnerEvent:
    """A canonical partner event: a stay, a wager, a check, or the reversal of one of them."""

    event_id: str
    event_type: PartnerEventType
    player_id: str
    occurred_at: datetime
    partner_id: str
    reference: str | None = None
    #: nights of a stay
    nights: int | None = None
    #: money spent: the stay's amount, the amount wagered, the check amount
    amount: Decimal | None = None
    #: the event a reversal takes back
    original_event_id: str | None = None
    correlation_id: str | None = None
    #: the event as received, kept for audit
    payload: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_reversal(self) -> bool:
        return self.event_type.is_reversal

    @property
    def source(self) -> EarningSource:
        return self.event_type.source


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """A partner event of a player rewards does not know yet: kept as received until the
    player's registration arrives (then it is published again) or the wait ends (then it is
    dead-lettered as ``unknown_player``)."""

    event_id: str
    player_id: str
    event_type: str
    payload: dict[str, Any] = field(compare=False, repr=False)
    parked_at: datetime

    @property
    def correlation_id(self) -> str | None:
        """The correlation id the event was sent with, if it has one."""
        value = self.payload.get("correlationId")
        return value if isinstance(value, str) else None


def _check_points(value: int, name: str) -> None:
    if not 0 <= value <= MAX_RULE_POINTS:
        raise InvalidEarningRule(f"{name} must be between 0 and {MAX_RULE_POINTS}.")


@dataclass(frozen=True, slots=True)
class EarningParameters:
    """How a rule version prices an event::

        points = pointsPerEvent + pointsPerNight * nights
                 + pointsPerUnit * floor(amount / unitAmount)

    Only full units count (Decimal arithmetic, floored): 1 point per $10 gives 12 points for
    $129.99. Defaults: hotel 10 per night; dining 5 per check plus 1 per $10; casino 1 per $10.
    """

    points_per_event: int = 0
    points_per_night: int = 0
    points_per_unit: int = 0
    unit_amount: Decimal = Decimal("10.00")

    def check(self, earning_type: EarningType) -> None:
        _check_points(self.points_per_event, "pointsPerEvent")
        _check_points(self.points_per_night, "pointsPerNight")
        _check_points(self.points_per_unit, "pointsPerUnit")
        if self.points_per_night and earning_type is not EarningType.HOTEL_STAY:
            raise InvalidEarningRule("pointsPerNight applies to HOTEL_STAY only.")
        if (
            not self.unit_amount.is_finite()
            or not MIN_UNIT_AMOUNT <= self.unit_amount <= MAX_UNIT_AMOUNT
            or self.unit_amount != self.unit_amount.quantize(UNIT_QUANTUM)
        ):
            raise InvalidEarningRule(
                f"unitAmount must be between {MIN_UNIT_AMOUNT} and {MAX_UNIT_AMOUNT} "
                "with at most 2 decimals."
            )

    def points_for(self, nights: int | None, amount: Decimal | None) -> int:
        points = self.points_per_event
        if nights and self.points_per_night:
            points += self.points_per_night * nights
        if amount is not None and self.points_per_unit:
            points += self.points_per_unit * int(amount // self.unit_amount)
        return points


DEFAULT_PARAMETERS = {
    EarningType.HOTEL_STAY: EarningParameters(points_per_night=10),
    EarningType.CASINO_SPEND: EarningParameters(points_per_unit=1, unit_amount=Decimal("10.00")),
    EarningType.DINING: EarningParameters(
        points_per_event=5, points_per_unit=1, unit_amount=Decimal("10.00")
    ),
}


@dataclass(frozen=True, slots=True)
class EarningRule:
    """One immutable version of how an earning type is priced, from ``effective_from`` on."""

    earning_type: EarningType
    version: int
    effective_from: datetime
    parameters: EarningParameters
    created_at: datetime
    created_by: str | None = None
    #: set when the version was taken back before it took effect; it then never prices anything
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_at is not None

    def points_for(self, event: PartnerEvent) -> int:
        """The points ``event`` earns under this version (refused beyond the per-event cap)."""
        if event.event_type.earning_type is not self.earning_type or event.is_reversal:
            raise ValueError("the rule does not price this event")
        points = self.parameters.points_for(event.nights, event.amount)
        if points > MAX_POINTS_PER_EVENT:
            raise InvalidPartnerEvent(
                "points_out_of_range",
                f"the event would earn {points} points, above {MAX_POINTS_PER_EVENT}",
            )
        return points


class RuleBook:
    """Every version of every earning rule; answers which one is effective at a moment.

    The effective version at ``t`` is the one not withdrawn with the latest ``effective_from``
    not after ``t`` (versions are scheduled in order, so that is also the highest such version).
    """

    def __init__(self, rules: Iterable[EarningRule], revision: int = 0) -> None:
        self.revision = revision
        self._versions: dict[EarningType, list[EarningRule]] = {t: [] for t in EarningType}
        for rule in rules:
            self._versions[rule.earning_type].append(rule)
        for versions in self._versions.values():
            versions.sort(key=lambda r: (r.effective_from, r.version))
        self._in_force = {t: [r for r in v if not r.withdrawn] for t, v in self._versions.items()}
        self._starts = {t: [r.effective_from for r in v] for t, v in self._in_force.items()}

    def versions(self, earning_type: EarningType) -> Sequence[EarningRule]:
        """Every version of the type, withdrawn ones included."""
        return tuple(self._versions[earning_type])

    def latest(self, earning_type: EarningType) -> EarningRule | None:
        """The latest version in force (scheduled or not), withdrawn ones left out."""
        versions = self._in_force[earning_type]
        return max(versions, key=lambda r: r.version) if versions else None

    def _next_version(self, earning_type: EarningType) -> int:
        # Numbers are never reused, not even a withdrawn version's.
        return max((r.version for r in self._versions[earning_type]), default=0) + 1

    def rule_at(self, earning_type: EarningType, moment: datetime) -> EarningRule | None:
        index = bisect.bisect_right(self._starts[earning_type], moment)
        return self._in_force[earning_type][index - 1] if index else None

    def schedule(
        self,
        earning_type: EarningType,
        effective_from: datetime,
        parameters: EarningParameters,
        now: datetime,
        lead: timedelta,
        created_by: str | None,
    ) -> EarningRule:
        """The next version of ``earning_type``'s rule.

        It may take effect no sooner than ``lead`` from ``now``: an event is accepted up to that
        much ahead of the clock, so no event already priced can fall inside the new version's
        period — points once awarded are always explained by the rules. Nor before the latest
        version's start: versions follow each other in time (to change a scheduled version,
        schedule another one at the same moment or later, or withdraw it).
        """
        if effective_from.tzinfo is None or effective_from.utcoffset() is None:
            raise InvalidEarningRule("effectiveFrom must carry a time zone.")
        parameters.check(earning_type)
        earliest = now + lead
        if effective_from < earliest:
            raise InvalidEarningRule(
                f"effectiveFrom must be at least {int(lead.total_seconds())} seconds from now "
                "(points already awarded never change)."
            )
        latest = self.latest(earning_type)
        if latest is not None and effective_from < latest.effective_from:
            raise EarningRuleScheduleConflict(
                f"Version {latest.version} takes effect at {latest.effective_from.isoformat()}; "
                "a new version cannot start before it."
            )
        return EarningRule(
            earning_type=earning_type,
            version=self._next_version(earning_type),
            effective_from=effective_from.astimezone(UTC),  # as read back from the database
            parameters=parameters,
            created_at=now,
            created_by=created_by,
        )

    def withdraw(
        self,
        earning_type: EarningType,
        version: int,
        now: datetime,
        lead: timedelta,
        withdrawn_by: str | None,
    ) -> EarningRule:
        """``version`` of ``earning_type`` taken back, so it never prices anything.

        Only while it starts more than ``lead`` from ``now``: events are accepted up to that much
        ahead of the clock, so none can have been priced under it yet. Withdrawing a withdrawn
        version returns it as it is.
        """
        rule = next((r for r in self._versions[earning_type] if r.version == version), None)
        if rule is None:
            raise EarningRuleNotFound()
        if rule.withdrawn:
            return rule
        if rule.effective_from <= now + lead:
            raise EarningRuleInEffect(
                f"Version {version} starts at {rule.effective_from.isoformat()}; only a "
                f"version starting more than {int(lead.total_seconds())} seconds from now can "
                "be withdrawn (points already awarded never change)."
            )
        return replace(rule, withdrawn_at=now, withdrawn_by=withdrawn_by)
