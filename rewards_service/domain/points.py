"""A player's points over a period, and how a period splits into stored totals and raw events.

Totals are kept per player, source and UTC day and month. A period is answered from whole
months, the whole days around them and, only for the partial days at its two ends, the raw
events — so the cost depends on the period's shape, not on how long the player's history is.
The split changes the cost, never the result (the edges are exact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from rewards_service.domain.earning import EarningSource
from rewards_service.domain.exceptions import InvalidPointsWindow

T = TypeVar("T", date, datetime)

#: periods are bounded to these years (a typo like year 20250 is refused, not scanned)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Span(Generic[T]):
    """``[start, end)``; None is unbounded on that side."""

    start: T | None
    end: T | None


@dataclass(frozen=True, slots=True)
class WindowPlan:
    months: Span[date] | None
    days: tuple[Span[date], ...]
    moments: tuple[Span[datetime], ...]


@dataclass(frozen=True, slots=True)
class SourceTotal:
    points: int = 0
    events: int = 0


@dataclass(frozen=True, slots=True)
class PointsSummary:
    player_id: str
    total_points: int
    breakdown: dict[EarningSource, SourceTotal]
    start: datetime | None
    end: datetime | None
    calculated_at: datetime

    @classmethod
    def of(
        cls,
        player_id: str,
        totals: dict[EarningSource, SourceTotal],
        start: datetime | None,
        end: datetime | None,
        calculated_at: datetime,
    ) -> PointsSummary:
        breakdown = {source: totals.get(source, SourceTotal()) for source in EarningSource}
        return cls(
            player_id=player_id,
            total_points=sum(t.points for t in breakdown.values()),
            breakdown=breakdown,
            start=None if start is None else start.astimezone(UTC),
            end=None if end is None else end.astimezone(UTC),
            calculated_at=calculated_at,
        )


def check_window(start: datetime | None, end: datetime | None) -> None:
    for name, moment in (("from", start), ("to", end)):
        if moment is None:
            continue
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidPointsWindow(f"'{name}' must carry a time zone.")
        if not EARLIEST <= moment <= LATEST:
            raise InvalidPointsWindow(f"'{name}' must be between 2000-01-01 and 2100-01-01.")
    if start is not None and end is not None and end <= start:
        raise InvalidPointsWindow("'to' must be after 'from'.")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _ceil_day(moment: datetime) -> date:
    day = moment.date()
    return day if moment == _midnight(day) else day + timedelta(days=1)


def _ceil_month(day: date) -> date:
    if day.day == 1:
        return day
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def plan_window(start: datetime | None, end: datetime | None) -> WindowPlan:
    """Split ``[start, end)`` into whole months, whole days and raw edges (all in UTC)."""
    check_window(start, end)
    start = start.astimezone(UTC) if start is not None else None
    end = end.astimezone(UTC) if end is not None else None
    first_day = _ceil_day(start) if start is not None else None
    last_day = end.date() if end is not None else None
    if first_day is not None and last_day is not None and first_day >= last_day:
        return WindowPlan(None, (), (Span(start, end),))
    moments: list[Span[datetime]] = []
    if start is not None and first_day is not None and start != _midnight(first_day):
        moments.append(Span(start, _midnight(first_day)))
    if end is not None and last_day is not None and end != _midnight(last_day):
        moments.append(Span(_midnight(last_day), end))
    first_month = _ceil_month(first_day) if first_day is not None else None
    last_month = last_day.replace(day=1) if last_day is not None else None
    if first_month is not None and last_month is not None and first_month >= last_month:
        return WindowPlan(None, (Span(first_day, last_day),), tuple(moments))
    days: list[Span[date]] = []
    if first_day is not None and first_day != first_month:
        days.append(Span(first_day, first_month))
    if last_day is not None and last_day != last_month:
        days.append(Span(last_month, last_day))
    return WindowPlan(Span(first_month, last_month), tuple(days), tuple(moments))
