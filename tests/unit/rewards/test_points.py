"""How a period splits into whole months, whole days and raw edges (and that nothing is lost)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewards_service.domain.earning import EarningSource
from rewards_service.domain.exceptions import InvalidPointsWindow
from rewards_service.domain.points import PointsSummary, SourceTotal, Span, WindowPlan, plan_window


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_all_time_reads_only_the_monthly_totals() -> None:
    assert plan_window(None, None) == WindowPlan(Span(None, None), (), ())


def test_a_period_is_whole_months_whole_days_and_two_partial_days() -> None:
    plan = plan_window(at(2026, 1, 20, 15, 30), at(2026, 4, 3, 8, 0))
    assert plan.months == Span(date(2026, 2, 1), date(2026, 4, 1))
    assert plan.days == (
        Span(date(2026, 1, 21), date(2026, 2, 1)),
        Span(date(2026, 4, 1), date(2026, 4, 3)),
    )
    assert plan.moments == (
        Span(at(2026, 1, 20, 15, 30), at(2026, 1, 21)),
        Span(at(2026, 4, 3), at(2026, 4, 3, 8, 0)),
    )


def test_midnight_bounds_need_no_raw_events() -> None:
    plan = plan_window(at(2026, 1, 1), at(2026, 3, 1))
    assert plan == WindowPlan(Span(date(2026, 1, 1), date(2026, 3, 1)), (), ())


def test_a_period_inside_one_day_is_read_raw() -> None:
    start, end = at(2026, 5, 5, 9), at(2026, 5, 5, 17)
    assert plan_window(start, end) == WindowPlan(None, (), (Span(start, end),))


def test_days_without_a_whole_month() -> None:
    plan = plan_window(at(2026, 5, 5, 9), at(2026, 5, 20))
    assert plan.months is None
    assert plan.days == (Span(date(2026, 5, 6), date(2026, 5, 20)),)


def test_open_ended_periods() -> None:
    since = plan_window(at(2026, 5, 5, 9), None)
    assert since.months == Span(date(2026, 6, 1), None)
    assert since.days == (Span(date(2026, 5, 6), date(2026, 6, 1)),)
    until = plan_window(None, at(2026, 5, 5, 9))
    assert until.months == Span(None, date(2026, 5, 1))
    assert until.days == (Span(date(2026, 5, 1), date(2026, 5, 5)),)
    assert until.moments == (Span(at(2026, 5, 5), at(2026, 5, 5, 9)),)


def test_offsets_are_read_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    plan = plan_window(datetime(2026, 5, 1, 2, 0, tzinfo=plus_two), None)
    assert plan.months == Span(date(2026, 5, 1), None)
    assert plan.moments == ()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (at(2026, 1, 2), at(2026, 1, 1)),
        (at(2026, 1, 1), at(2026, 1, 1)),
        (at(1999, 12, 31), None),
        (None, at(2100, 1, 2)),
        (datetime(2026, 1, 1), None),
    ],
)
def test_invalid_periods_are_refused(start: datetime | None, end: datetime | None) -> None:
    with pytest.raises(InvalidPointsWindow):
        plan_window(start, end)


def _pieces(plan: WindowPlan) -> list[tuple[datetime, datetime]]:
    low, high = at(1990, 1, 1), at(2110, 1, 1)

    def moment(day: date | None, default: datetime) -> datetime:
        return default if day is None else datetime.combine(day, time(0), tzinfo=UTC)

    pieces = [(m.start or low, m.end or high) for m in plan.moments]
    pieces += [(moment(d.start, low), moment(d.end, high)) for d in plan.days]
    if plan.months is not None:
        pieces.append((moment(plan.months.start, low), moment(plan.months.end, high)))
        for bound in (plan.months.start, plan.months.end):
            assert bound is None or bound.day == 1
    return sorted(pieces)


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@given(moments | st.none(), moments | st.none())
def test_the_pieces_cover_the_period_exactly_once(
    start: datetime | None, end: datetime | None
) -> None:
    if start is not None and end is not None and end <= start:
        start, end = end, start
        if start == end:
            return
    pieces = _pieces(plan_window(start, end))
    assert pieces[0][0] == (start or at(1990, 1, 1))
    assert pieces[-1][1] == (end or at(2110, 1, 1))
    for (_, previous_end), (next_start, _) in itertools.pairwise(pieces):
        assert previous_end == next_start  # contiguous, no gap, no overlap
    assert all(a < b for a, b in pieces)
    assert len([p for p in pieces if p[1] - p[0] < timedelta(days=1)]) <= 2


def test_a_summary_answers_its_period_in_utc() -> None:
    """As every other date the service answers: a period asked in +05:00 is the same instants."""
    plus_five = timezone(timedelta(hours=5))
    start, end = (
        datetime(2026, 3, 1, 5, tzinfo=plus_five),
        datetime(2026, 4, 1, 5, tzinfo=plus_five),
    )
    totals = {EarningSource.HOTEL: SourceTotal(points=10, events=1)}
    summary = PointsSummary.of("p", totals, start, end, at(2026, 4, 2))
    assert (summary.start, summary.end) == (at(2026, 3, 1), at(2026, 4, 1))
    assert summary.start is not None
    assert summary.start.utcoffset() == timedelta(0)
    assert summary.total_points == 10
    assert PointsSummary.of("p", totals, None, None, at(2026, 4, 2)).start is None
