"""Earning rules: what each rule version pays, which version applies when, and scheduling."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rewards_service.domain.earning import (
    DEFAULT_PARAMETERS,
    MAX_POINTS_PER_EVENT,
    EarningParameters,
    EarningRule,
    EarningType,
    PartnerEvent,
    PartnerEventType,
    RuleBook,
)
from rewards_service.domain.exceptions import (
    EarningRuleInEffect,
    EarningRuleNotFound,
    EarningRuleScheduleConflict,
    InvalidEarningRule,
    InvalidPartnerEvent,
)
from tests.unit.rewards.fakes import EPOCH, default_rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LEAD = timedelta(minutes=5)


def event(
    event_type: PartnerEventType,
    *,
    nights: int | None = None,
    amount: str | None = None,
    at: datetime = NOW,
) -> PartnerEvent:
    return PartnerEvent(
        event_id=str(uuid.uuid4()),
        event_type=event_type,
        player_id=str(uuid.uuid4()),
        occurred_at=at,
        partner_id="partner",
        nights=nights,
        amount=Decimal(amount) if amount is not None else None,
    )


def default(earning_type: EarningType) -> EarningRule:
    return EarningRule(earning_type, 1, EPOCH, DEFAULT_PARAMETERS[earning_type], EPOCH)


@pytest.mark.parametrize(
    ("partner_event", "points"),
    [
        # hotel: 10 a night, whatever the bill
        (event(PartnerEventType.HOTEL_STAY, nights=1), 10),
        (event(PartnerEventType.HOTEL_STAY, nights=3, amount="899.00"), 30),
        # casino: 1 per FULL $10 wagered
        (event(PartnerEventType.CASINO_SPEND, amount="9.99"), 0),
        (event(PartnerEventType.CASINO_SPEND, amount="10.00"), 1),
        (event(PartnerEventType.CASINO_SPEND, amount="129.99"), 12),
        (event(PartnerEventType.CASINO_SPEND, amount="1000000.00"), 100_000),
        # dining: 5 a check plus 1 per full $10
        (event(PartnerEventType.DINING, amount="0.00"), 5),
        (event(PartnerEventType.DINING, amount="48.20"), 9),
        (event(PartnerEventType.DINING, amount="50.00"), 10),
    ],
)
def test_the_default_rules_pay_what_the_programme_promises(
    partner_event: PartnerEvent, points: int
) -> None:
    rule = default(partner_event.event_type.earning_type)
    assert rule.points_for(partner_event) == points


def test_a_rule_refuses_more_than_the_per_event_cap() -> None:
    rule = EarningRule(
        EarningType.CASINO_SPEND,
        2,
        EPOCH,
        EarningParameters(points_per_unit=100_000, unit_amount=Decimal("0.01")),
        EPOCH,
    )
    with pytest.raises(InvalidPartnerEvent) as refused:
        rule.points_for(event(PartnerEventType.CASINO_SPEND, amount="1000.00"))
    assert refused.value.reason == "points_out_of_range"
    assert rule.points_for(event(PartnerEventType.CASINO_SPEND, amount="1.00")) <= (
        MAX_POINTS_PER_EVENT
    )


def test_a_rule_prices_only_its_own_type() -> None:
    with pytest.raises(ValueError, match="does not price"):
        default(EarningType.DINING).points_for(event(PartnerEventType.CASINO_SPEND, amount="1"))


def test_reversal_types_name_the_earning_they_take_back() -> None:
    assert PartnerEventType.DINING_REVERSED.is_reversal
    assert PartnerEventType.DINING_REVERSED.earning_type is EarningType.DINING
    assert not PartnerEventType.HOTEL_STAY.is_reversal
    assert PartnerEventType.HOTEL_STAY_REVERSED.source.value == "HOTEL"
    assert PartnerEventType.CASINO_SPEND.source.value == "CASINO"


def schedule(
    book: RuleBook,
    effective_from: datetime,
    parameters: EarningParameters | None = None,
    earning_type: EarningType = EarningType.CASINO_SPEND,
) -> EarningRule:
    return book.schedule(
        earning_type,
        effective_from,
        parameters or EarningParameters(points_per_unit=2, unit_amount=Decimal("10.00")),
        now=NOW,
        lead=LEAD,
        created_by="staff-1",
    )


def test_the_version_effective_at_the_events_time_prices_it() -> None:
    book = RuleBook(default_rules())
    v2 = schedule(book, NOW + timedelta(days=1))
    book = RuleBook([*default_rules(), v2])
    v3 = schedule(book, NOW + timedelta(days=2), EarningParameters(points_per_unit=3))
    book = RuleBook([*default_rules(), v2, v3])

    def version_at(moment: datetime) -> int:
        rule = book.rule_at(EarningType.CASINO_SPEND, moment)
        assert rule is not None
        return rule.version

    assert (v2.version, v3.version) == (2, 3)
    assert version_at(NOW) == 1
    assert version_at(v2.effective_from - timedelta(microseconds=1)) == 1
    assert version_at(v2.effective_from) == 2
    assert version_at(v3.effective_from + timedelta(days=300)) == 3
    # Other types keep their own history.
    dining = book.rule_at(EarningType.DINING, NOW + timedelta(days=9))
    assert dining is not None
    assert dining.version == 1
    # Before the first version nothing applies.
    assert book.rule_at(EarningType.DINING, EPOCH - timedelta(seconds=1)) is None


def test_a_version_starts_at_a_moment_kept_in_utc() -> None:
    tomorrow = (NOW + timedelta(days=1)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    rule = schedule(RuleBook(default_rules()), tomorrow)
    assert rule.effective_from == tomorrow
    assert rule.effective_from.isoformat() == "2026-06-02T12:00:00+00:00"


def test_a_later_version_at_the_same_moment_replaces_a_scheduled_one() -> None:
    v2 = schedule(RuleBook(default_rules()), NOW + timedelta(days=1))
    book = RuleBook([*default_rules(), v2])
    v3 = schedule(book, v2.effective_from, EarningParameters(points_per_unit=5))
    book = RuleBook([*default_rules(), v2, v3])
    rule = book.rule_at(EarningType.CASINO_SPEND, v2.effective_from)
    assert rule is not None
    assert rule.version == 3


def test_a_new_version_starts_at_least_the_lead_ahead() -> None:
    book = RuleBook(default_rules())
    with pytest.raises(InvalidEarningRule, match="300 seconds"):
        schedule(book, NOW + LEAD - timedelta(seconds=1))
    with pytest.raises(InvalidEarningRule):
        schedule(book, NOW - timedelta(days=1))
    assert schedule(book, NOW + LEAD).version == 2


def test_a_new_version_cannot_start_before_the_latest_one() -> None:
    v2 = schedule(RuleBook(default_rules()), NOW + timedelta(days=10))
    book = RuleBook([*default_rules(), v2])
    with pytest.raises(EarningRuleScheduleConflict):
        schedule(book, NOW + timedelta(days=9))


def test_a_withdrawn_version_never_prices_and_no_longer_blocks_earlier_ones() -> None:
    typo = schedule(RuleBook(default_rules()), NOW + timedelta(days=365 * 70))
    book = RuleBook([*default_rules(), typo])
    with pytest.raises(EarningRuleScheduleConflict):
        schedule(book, NOW + timedelta(days=10))
    withdrawn = book.withdraw(EarningType.CASINO_SPEND, typo.version, NOW, LEAD, "staff-2")
    assert (withdrawn.withdrawn_at, withdrawn.withdrawn_by) == (NOW, "staff-2")
    book = RuleBook([*default_rules(), withdrawn])
    late = book.rule_at(EarningType.CASINO_SPEND, typo.effective_from + timedelta(days=1))
    assert late is not None
    assert late.version == 1
    # The number is not reused; the next version may start before the withdrawn one did.
    assert schedule(book, NOW + timedelta(days=10)).version == 3
    # Withdrawing it again changes nothing.
    again = book.withdraw(EarningType.CASINO_SPEND, typo.version, NOW + LEAD, LEAD, "staff-3")
    assert again == withdrawn


def test_only_a_version_no_event_can_have_used_is_withdrawn() -> None:
    soon = schedule(RuleBook(default_rules()), NOW + LEAD + timedelta(seconds=1))
    book = RuleBook([*default_rules(), soon])
    assert book.withdraw(EarningType.CASINO_SPEND, 2, NOW, LEAD, None).withdrawn
    # A second later an event dated at its start could already have been priced under it.
    later = NOW + timedelta(seconds=1)
    with pytest.raises(EarningRuleInEffect):
        book.withdraw(EarningType.CASINO_SPEND, 2, later, LEAD, None)
    with pytest.raises(EarningRuleInEffect):
        book.withdraw(EarningType.CASINO_SPEND, 1, NOW, LEAD, None)
    with pytest.raises(EarningRuleNotFound):
        book.withdraw(EarningType.CASINO_SPEND, 3, NOW, LEAD, None)
    with pytest.raises(EarningRuleNotFound):
        book.withdraw(EarningType.DINING, 2, NOW, LEAD, None)


def test_a_version_needs_a_time_zone_and_sensible_parameters() -> None:
    book = RuleBook(default_rules())
    with pytest.raises(InvalidEarningRule, match="time zone"):
        schedule(book, datetime(2030, 1, 1))
    with pytest.raises(InvalidEarningRule, match="HOTEL_STAY only"):
        schedule(book, NOW + LEAD, EarningParameters(points_per_night=5))
    with pytest.raises(InvalidEarningRule, match="unitAmount"):
        schedule(book, NOW + LEAD, EarningParameters(points_per_unit=1, unit_amount=Decimal(0)))
    with pytest.raises(InvalidEarningRule, match="unitAmount"):
        schedule(book, NOW + LEAD, EarningParameters(unit_amount=Decimal("1.005")))
    with pytest.raises(InvalidEarningRule, match="pointsPerEvent"):
        schedule(book, NOW + LEAD, EarningParameters(points_per_event=-1))
    hotel = schedule(
        book,
        NOW + LEAD,
        EarningParameters(points_per_night=15, points_per_event=50),
        EarningType.HOTEL_STAY,
    )
    assert hotel.points_for(event(PartnerEventType.HOTEL_STAY, nights=2)) == 80
