"""The promotion rules on the domain objects: validation, windows, assignment, status, claims."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from rewards_service.domain.exceptions import (
    InvalidPromotion,
    PromotionAlreadyClaimed,
    PromotionClaimLimitReached,
    PromotionNotAssignable,
    PromotionNotClaimable,
)
from rewards_service.domain.model import (
    AssignmentSource,
    PlayerPromotionStatus,
    Promotion,
    PromotionType,
    to_money,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLAYER = "3f1c2a4e-8d65-4f0e-9b7a-2c1d5e6f7a8b"


def promotion(**overrides: Any) -> Promotion:
    values: dict[str, Any] = {
        "title": "  Spring bonus ",
        "description": "",
        "type": PromotionType.BONUS,
        "amount": Decimal("10.00"),
        "start_date": NOW - timedelta(days=1),
        "end_date": NOW + timedelta(days=1),
        "now": NOW,
    }
    values.update(overrides)
    return Promotion.create(**values)


def test_a_new_promotion_is_trimmed_active_and_unclaimed() -> None:
    created = promotion(amount=Decimal("10.5"))
    assert created.title == "Spring bonus"
    assert created.amount == Decimal("10.50")
    assert str(created.amount) == "10.50"
    assert created.is_active
    assert created.claims_count == 0
    assert created.max_claims_per_player == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": Decimal("1.005")},
        {"amount": Decimal("-1")},
        {"amount": Decimal("1000000.01")},
        {"amount": Decimal("NaN")},
        {"amount": Decimal("1E+30")},
        {"title": "   "},
        {"title": "x" * 201},
        {"description": "x" * 2001},
        {"end_date": NOW - timedelta(days=1)},
        {"start_date": datetime(2026, 6, 1)},  # no time zone
        {"max_claims": 0},
        {"max_claims_per_player": 0},
        {"max_claims_per_player": 101},
    ],
)
def test_invalid_promotions_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidPromotion):
        promotion(**overrides)


@pytest.mark.parametrize(
    "title",
    [
        "\u200b",  # zero-width space
        "\u200b\u200b\u200b",
        "\ufeff",  # byte order mark
        "\U000e0041",  # tag letter
        "\u200d",  # a joiner joining nothing
        "\u3164\u3164",  # Hangul fillers
        "\u115f\u1160\uffa0",
        "\u2800 \u2800",  # the empty Braille pattern
        "\u17b4\u17b5",  # Khmer inherent vowels
        " \u00a0\u3000\u2028 ",
        "\x7f",
        "\x1b[2J\x1b[31mFREE MONEY",  # terminal escapes
        "Free\tspins",
        "Free\nspins",
        "\u202eSUNOB 001",  # right-to-left override
        "Bonus \u2066100\u2069",  # isolate
        "\u202aBonus",
    ],
)
def test_a_title_showing_nothing_or_carrying_controls_is_refused(title: str) -> None:
    with pytest.raises(InvalidPromotion):
        promotion(title=title)


@pytest.mark.parametrize(
    "title",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 Family weekend",  # one emoji (ZWJ)
        "\U0001f3b0",
        "Caf\u00e9 bonus",
        "\u05d1\u05d5\u05e0\u05d5\u05e1 \u200f100",  # Hebrew with a right-to-left mark
        "Soft\u00adhyphen",
    ],
)
def test_visible_titles_in_any_script_are_kept_as_sent(title: str) -> None:
    assert promotion(title=title).title == title


def test_a_description_keeps_its_line_breaks_but_no_other_control() -> None:
    text = "Line one\r\nLine two\n\tindented"
    assert promotion(description=text).description == text
    for refused in ["\x1b[31mred", "bell\x07", "\u202ereversed", "a\x00b"]:
        with pytest.raises(InvalidPromotion):
            promotion(description=refused)


def test_a_promotion_is_revised_whatever_its_stored_title() -> None:
    # Title and description never change: one stored with invisible text can still be ended.
    stored = replace(promotion(), title="\u200b")
    assert not stored.revise(NOW, is_active=False).is_active


def test_money_keeps_exact_cents() -> None:
    assert to_money(Decimal("0")) == Decimal("0.00")
    assert to_money(Decimal("1000000.00")) == Decimal("1000000.00")


def test_only_active_welcome_promotions_over_the_same_moment_conflict() -> None:
    welcome = promotion(type=PromotionType.WELCOME_BONUS)
    overlapping = promotion(type=PromotionType.WELCOME_BONUS, start_date=NOW)
    back_to_back = promotion(
        type=PromotionType.WELCOME_BONUS,
        start_date=welcome.end_date,
        end_date=welcome.end_date + timedelta(days=1),
    )
    assert welcome.conflicts_with(overlapping)
    assert not welcome.conflicts_with(welcome)
    assert not welcome.conflicts_with(back_to_back)
    assert not welcome.conflicts_with(promotion(type=PromotionType.WELCOME_BONUS, is_active=False))
    assert not promotion().conflicts_with(promotion())


def test_revising_changes_only_what_is_given_and_keeps_the_rules() -> None:
    original = promotion()
    later = NOW + timedelta(hours=1)
    revised = original.revise(later, is_active=False)
    assert not revised.is_active
    assert revised.start_date == original.start_date
    assert revised.updated_at == later
    with pytest.raises(InvalidPromotion):
        original.revise(later, end_date=original.start_date)


def test_a_promotions_dates_are_kept_in_utc_whatever_offset_they_came_with() -> None:
    plus_five = timezone(timedelta(hours=5))
    start = datetime(2027, 2, 1, tzinfo=plus_five)
    created = promotion(start_date=start, end_date=start + timedelta(days=30), now=start)
    assert created.start_date == start
    assert created.start_date.isoformat() == "2027-01-31T19:00:00+00:00"
    assert created.end_date.utcoffset() == timedelta(0)

    minus_eight = timezone(timedelta(hours=-8))
    revised = created.revise(NOW, end_date=datetime(2027, 3, 1, tzinfo=minus_eight))
    assert revised.end_date.isoformat() == "2027-03-01T08:00:00+00:00"
    assert revised.start_date == created.start_date


@pytest.mark.parametrize(
    "overrides",
    [
        {"end_date": datetime(2100, 1, 1, 0, 0, 1, tzinfo=UTC)},
        {"end_date": datetime(2300, 1, 1, tzinfo=UTC)},
        {"start_date": datetime(1999, 12, 31, 23, 59, tzinfo=UTC)},
        # No UTC time at all: year 10000 and year 0.
        {"end_date": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))},
        {"start_date": datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))},
    ],
)
def test_dates_outside_2000_to_2100_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidPromotion, match="2100"):
        promotion(**overrides)
    with pytest.raises(InvalidPromotion, match="2100"):
        promotion().revise(NOW, **overrides)


def test_the_date_bounds_themselves_are_allowed() -> None:
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    created = promotion(start_date=start, end_date=end)
    assert (created.start_date, created.end_date) == (start, end)


def test_a_stored_window_past_2100_can_still_be_revised_back_inside() -> None:
    stored = replace(promotion(), end_date=datetime(2300, 1, 1, tzinfo=UTC))
    assert not stored.revise(NOW, is_active=False).is_active
    assert stored.revise(NOW, end_date=NOW + timedelta(days=30)).end_date.year == 2026


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"is_active": False}, "inactive"),
        ({"start_date": NOW + timedelta(hours=1)}, "not started"),
        ({"end_date": NOW}, "ended"),
    ],
)
def test_only_a_running_promotion_can_be_assigned(overrides: dict[str, Any], reason: str) -> None:
    if "end_date" in overrides:
        overrides["start_date"] = NOW - timedelta(days=1)
    with pytest.raises(PromotionNotAssignable, match=reason):
        promotion(**overrides).assign_to(PLAYER, AssignmentSource.STAFF, NOW)


def test_a_promotion_whose_total_claims_are_used_up_cannot_be_assigned() -> None:
    running = promotion(max_claims=1)
    assert running.is_assignable(NOW)
    exhausted = running.record_claim(NOW)
    assert not exhausted.is_assignable(NOW)
    with pytest.raises(PromotionNotAssignable, match="maximum number of claims"):
        exhausted.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    # The window's refusals come first, as they do for a claim.
    with pytest.raises(PromotionNotAssignable, match="inactive"):
        exhausted.revise(NOW, is_active=False).ensure_assignable(NOW)


def test_an_assignment_starts_assigned_and_expires_with_its_promotion() -> None:
    running = promotion()
    assignment = running.assign_to(PLAYER, AssignmentSource.WELCOME, NOW, assigned_by=None)
    assert assignment.status is PlayerPromotionStatus.ASSIGNED
    assert assignment.status_at(running, NOW) is PlayerPromotionStatus.ASSIGNED
    assert assignment.claims_remaining(running, NOW) == 1
    assert assignment.status_at(running, running.end_date) is PlayerPromotionStatus.EXPIRED
    deactivated = running.revise(NOW, is_active=False)
    assert assignment.status_at(deactivated, NOW) is PlayerPromotionStatus.EXPIRED
    assert assignment.claims_remaining(deactivated, NOW) == 0


def test_a_claim_marks_the_assignment_claimed_and_counts_on_the_promotion() -> None:
    running = promotion(max_claims=10)
    assignment = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    claim = assignment.claim(running, NOW)
    assert claim.assignment.status is PlayerPromotionStatus.CLAIMED
    assert claim.assignment.last_claimed_at == NOW
    assert claim.promotion.claims_count == 1
    assert claim.amount == Decimal("10.00")
    assert claim.idempotency_key == f"{assignment.id}:1"
    # Claimed stays claimed, even after the promotion ends.
    assert claim.assignment.status_at(running, running.end_date) is PlayerPromotionStatus.CLAIMED
    with pytest.raises(PromotionAlreadyClaimed):
        claim.assignment.claim(claim.promotion, NOW)


def test_a_repeatable_promotion_is_claimed_up_to_its_per_player_limit() -> None:
    running = promotion(max_claims_per_player=2)
    assignment = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    first = assignment.claim(running, NOW)
    assert first.assignment.status is PlayerPromotionStatus.ASSIGNED
    assert first.assignment.claims_remaining(first.promotion, NOW) == 1
    second = first.assignment.claim(first.promotion, NOW)
    assert second.assignment.status is PlayerPromotionStatus.CLAIMED
    assert second.idempotency_key != first.idempotency_key
    assert second.promotion.claims_count == 2


def test_claims_are_refused_outside_the_window_or_past_the_total_limit() -> None:
    running = promotion(max_claims=1)
    assignment = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    with pytest.raises(PromotionNotClaimable, match="ended"):
        assignment.claim(running, running.end_date)
    with pytest.raises(PromotionNotClaimable, match="inactive"):
        assignment.claim(running.revise(NOW, is_active=False), NOW)
    exhausted = running.record_claim(NOW)
    with pytest.raises(PromotionClaimLimitReached):
        assignment.claim(exhausted, NOW)
    with pytest.raises(ValueError, match="does not belong"):
        assignment.claim(promotion(), NOW)


def test_an_assignment_of_a_promotion_out_of_claims_reads_expired() -> None:
    running = promotion(max_claims=2, max_claims_per_player=2)
    assignment = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    once = assignment.claim(running, NOW)
    assert once.assignment.status_at(once.promotion, NOW) is PlayerPromotionStatus.ASSIGNED
    assert once.assignment.claims_remaining(once.promotion, NOW) == 1
    # Somebody else makes the last claim of the total: neither this holder nor anyone else can.
    exhausted = once.promotion.record_claim(NOW)
    for held in (assignment, once.assignment):
        assert held.status_at(exhausted, NOW) is PlayerPromotionStatus.EXPIRED
        assert held.claims_remaining(exhausted, NOW) == 0
    with pytest.raises(PromotionClaimLimitReached):
        once.assignment.claim(exhausted, NOW)
    # A fully claimed assignment stays CLAIMED.
    last = once.assignment.claim(once.promotion, NOW)
    assert last.assignment.status_at(last.promotion, NOW) is PlayerPromotionStatus.CLAIMED


def test_claims_remaining_never_exceed_what_is_left_of_the_total() -> None:
    running = promotion(max_claims=2, max_claims_per_player=3)
    mine = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    assert mine.claims_remaining(running, NOW) == 2
    # Another holder claims once: one claim is left for everybody.
    counted = running.record_claim(NOW)
    assert mine.claims_remaining(counted, NOW) == 1
    assert mine.claims_remaining(promotion(max_claims_per_player=3), NOW) == 3


def test_an_assignment_of_a_promotion_not_started_yet_has_no_claims_remaining() -> None:
    running = promotion()
    assignment = running.assign_to(PLAYER, AssignmentSource.STAFF, NOW)
    postponed = running.revise(NOW, start_date=NOW + timedelta(hours=1))
    # Held, and claimable once the window opens; nothing to claim before.
    assert assignment.status_at(postponed, NOW) is PlayerPromotionStatus.ASSIGNED
    assert assignment.claims_remaining(postponed, NOW) == 0
    with pytest.raises(PromotionNotClaimable, match="not started"):
        assignment.claim(postponed, NOW)
    started = postponed.start_date
    assert assignment.claims_remaining(postponed, started) == 1
    assert assignment.claim(postponed, started).number == 1
