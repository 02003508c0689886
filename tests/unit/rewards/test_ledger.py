"""The points ledger: each event earns its rule's points once; reversals, repeats and reorders."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rewards_service.domain.earning import (
    EarningParameters,
    EarningRule,
    EarningSource,
    EarningType,
    PartnerEvent,
    PartnerEventType,
    RuleBook,
)
from rewards_service.domain.ledger import AwardStatus, Ledger, LedgerContext, RecordedEvent
from tests.unit.rewards.fakes import default_rules

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PLAYER = str(uuid.uuid4())
BOOK = RuleBook(default_rules())


def casino(amount: str = "125.00", player: str = PLAYER, at: datetime = NOW) -> PartnerEvent:
    return PartnerEvent(
        event_id=str(uuid.uuid4()),
        event_type=PartnerEventType.CASINO_SPEND,
        player_id=player,
        occurred_at=at,
        partner_id="casino",
        reference="T-1",
        amount=Decimal(amount),
    )


def stay(nights: int = 2, player: str = PLAYER) -> PartnerEvent:
    return PartnerEvent(
        event_id=str(uuid.uuid4()),
        event_type=PartnerEventType.HOTEL_STAY,
        player_id=player,
        occurred_at=NOW,
        partner_id="hotel",
        reference="F-1",
        nights=nights,
    )


def reversal(
    original: PartnerEvent,
    event_type: PartnerEventType | None = None,
    player: str | None = None,
    at: datetime = NOW,
) -> PartnerEvent:
    return PartnerEvent(
        event_id=str(uuid.uuid4()),
        event_type=event_type or PartnerEventType(f"{original.event_type.value}_REVERSED"),
        player_id=player or original.player_id,
        occurred_at=at,
        partner_id=original.partner_id,
        original_event_id=original.event_id,
    )


def test_each_event_earns_its_rule_points_and_one_confirmation() -> None:
    events = [casino("125.00"), stay(3), casino("9.99")]
    awards = Ledger(BOOK, LedgerContext()).award(events)
    assert [r.points for r in awards.confirmed] == [12, 30, 0]
    assert [r.event_id for r in awards.confirmed] == [e.event_id for e in events]
    assert all(r.status is AwardStatus.AWARDED and r.rule_version == 1 for r in awards.confirmed)
    assert list(awards.recorded) == [e.event_id for e in events]
    assert not awards.refused
    assert not awards.settled


def test_a_reversal_takes_back_exactly_what_the_original_earned() -> None:
    original = casino("129.99")
    first = Ledger(BOOK, LedgerContext()).award([original])
    recorded = first.recorded[original.event_id]

    undo = reversal(original)
    awards = Ledger(BOOK, LedgerContext(originals={original.event_id: recorded})).award([undo])
    (confirmed,) = awards.confirmed
    assert confirmed.event_id == undo.event_id
    assert confirmed.points == -12
    assert confirmed.rule_version == 1
    assert confirmed.status is AwardStatus.AWARDED


def test_the_original_keeps_its_price_when_the_rules_changed_since() -> None:
    original = casino("100.00")
    recorded = RecordedEvent(original, AwardStatus.AWARDED, 10, 1)
    doubled = EarningRule(
        EarningType.CASINO_SPEND,
        2,
        NOW - timedelta(days=1),
        EarningParameters(points_per_unit=2, unit_amount=Decimal("10.00")),
        NOW - timedelta(days=2),
    )
    book = RuleBook([*default_rules(), doubled])
    awards = Ledger(book, LedgerContext(originals={original.event_id: recorded})).award(
        [reversal(original), casino("100.00")]
    )
    assert [(r.points, r.rule_version) for r in awards.confirmed] == [(-10, 1), (20, 2)]


def test_a_second_reversal_of_the_same_original_earns_nothing() -> None:
    original = stay(2)
    recorded = RecordedEvent(original, AwardStatus.AWARDED, 20, 1)
    context = LedgerContext(originals={original.event_id: recorded})
    awards = Ledger(BOOK, context).award([reversal(original), reversal(original)])
    assert [(r.status, r.points) for r in awards.confirmed] == [
        (AwardStatus.AWARDED, -20),
        (AwardStatus.DUPLICATE, 0),
    ]
    # Reversed in an earlier batch already: the new one is a duplicate too.
    later = Ledger(
        BOOK,
        LedgerContext(originals=context.originals, reversed_originals={original.event_id}),
    ).award([reversal(original)])
    assert [(r.status, r.points) for r in later.confirmed] == [(AwardStatus.DUPLICATE, 0)]


def test_a_reversal_before_its_original_waits_then_both_are_confirmed_in_order() -> None:
    original = casino("250.00")
    undo = reversal(original)

    first = Ledger(BOOK, LedgerContext()).award([undo])
    waiting = first.recorded[undo.event_id]
    assert waiting.status is AwardStatus.PENDING
    assert waiting.points == 0
    assert not first.confirmed
    assert not first.increments()

    second = Ledger(BOOK, LedgerContext(pending={original.event_id: [waiting]})).award([original])
    assert [(r.event_id, r.points) for r in second.confirmed] == [
        (original.event_id, 25),
        (undo.event_id, -25),
    ]
    assert list(second.recorded) == [original.event_id]
    assert second.settled[undo.event_id].status is AwardStatus.AWARDED
    # Earned and taken back on the same day: the day nets to 0 over 2 counted events.
    (increment,) = second.increments()
    assert (increment.points, increment.events) == (0, 2)


def test_a_reorder_inside_one_batch_is_settled_in_the_batch() -> None:
    original = stay(1)
    undo = reversal(original)
    repeat = reversal(original)
    awards = Ledger(BOOK, LedgerContext()).award([undo, repeat, original])
    assert [(r.event_id, r.status, r.points) for r in awards.confirmed] == [
        (original.event_id, AwardStatus.AWARDED, 10),
        (undo.event_id, AwardStatus.AWARDED, -10),
        (repeat.event_id, AwardStatus.DUPLICATE, 0),
    ]
    assert list(awards.recorded) == [undo.event_id, repeat.event_id, original.event_id]
    assert all(r.status is not AwardStatus.PENDING for r in awards.recorded.values())


def test_a_reversal_of_another_players_or_another_types_event_is_refused() -> None:
    original = casino()
    recorded = RecordedEvent(original, AwardStatus.AWARDED, 12, 1)
    context = LedgerContext(originals={original.event_id: recorded})
    foreign = reversal(original, player=str(uuid.uuid4()))
    wrong_type = reversal(original, event_type=PartnerEventType.DINING_REVERSED)
    awards = Ledger(BOOK, context).award([foreign, wrong_type])
    assert [(r.event_id, r.reason) for r in awards.refused] == [
        (foreign.event_id, "reversal_mismatch"),
        (wrong_type.event_id, "reversal_mismatch"),
    ]
    assert "another player" in awards.refused[0].message
    assert not awards.confirmed
    assert not awards.recorded


def test_a_partner_cannot_take_back_points_another_partner_awarded() -> None:
    original = casino()
    recorded = RecordedEvent(original, AwardStatus.AWARDED, 12, 1)
    context = LedgerContext(originals={original.event_id: recorded})
    other_partner = replace(reversal(original), partner_id="dining")
    awards = Ledger(BOOK, context).award([other_partner])
    assert [(r.event_id, r.reason) for r in awards.refused] == [
        (other_partner.event_id, "reversal_mismatch")
    ]
    assert "another partner" in awards.refused[0].message
    assert not awards.confirmed
    # Waiting for its original, it is rejected when the original arrives.
    early = replace(reversal(original), partner_id="dining")
    waiting = RecordedEvent(early, AwardStatus.PENDING, 0, None)
    settled = Ledger(BOOK, LedgerContext(pending={original.event_id: [waiting]})).award([original])
    assert settled.settled[early.event_id].status is AwardStatus.REJECTED
    assert [r.event_id for r in settled.refused_later] == [early.event_id]
    assert [r.event_id for r in settled.confirmed] == [original.event_id]


def test_a_reversal_of_a_reversal_is_refused() -> None:
    original = casino()
    undo = reversal(original)
    pointless = replace(reversal(original), original_event_id=undo.event_id)
    awards = Ledger(BOOK, LedgerContext()).award([original, undo, pointless])
    assert [r.reason for r in awards.refused] == ["reversal_mismatch"]
    assert "itself a reversal" in awards.refused[0].message


def test_a_waiting_reversal_whose_original_is_another_players_is_rejected_when_it_arrives() -> None:
    original = casino()
    stray = reversal(original, player=str(uuid.uuid4()))
    waiting = RecordedEvent(stray, AwardStatus.PENDING, 0, None)
    awards = Ledger(BOOK, LedgerContext(pending={original.event_id: [waiting]})).award([original])
    assert [r.event_id for r in awards.confirmed] == [original.event_id]
    assert awards.settled[stray.event_id].status is AwardStatus.REJECTED
    assert [(r.event_id, r.reason) for r in awards.refused_later] == [
        (stray.event_id, "reversal_mismatch")
    ]
    assert "another player" in awards.refused_later[0].message
    assert not awards.refused
    # In the same batch it is refused as delivered instead.
    stray_now = reversal(original, player=str(uuid.uuid4()))
    same_batch = Ledger(BOOK, LedgerContext()).award([stray_now, casino(), original])
    assert [r.event_id for r in same_batch.refused] == [stray_now.event_id]
    assert stray_now.event_id not in same_batch.recorded


def test_no_rule_at_the_events_time_refuses_it() -> None:
    early = casino(at=datetime(1969, 12, 31, tzinfo=UTC))
    awards = Ledger(BOOK, LedgerContext()).award([early])
    assert [r.reason for r in awards.refused] == ["no_earning_rule"]


def test_increments_sum_per_player_day_and_source() -> None:
    other = str(uuid.uuid4())
    yesterday = NOW - timedelta(days=1)
    events = [
        casino("100.00"),
        casino("50.00"),
        casino("100.00", at=yesterday),
        casino("30.00", player=other),
        stay(2),
    ]
    awards = Ledger(BOOK, LedgerContext()).award(events)
    found = {(i.player_id, i.day, i.source): (i.points, i.events) for i in awards.increments()}
    assert found == {
        (PLAYER, date(2026, 6, 1), EarningSource.CASINO): (15, 2),
        (PLAYER, date(2026, 5, 31), EarningSource.CASINO): (10, 1),
        (PLAYER, date(2026, 6, 1), EarningSource.HOTEL): (20, 1),
        (other, date(2026, 6, 1), EarningSource.CASINO): (3, 1),
    }
    keys = [(i.player_id, i.day, i.source) for i in awards.increments()]
    assert keys == sorted(keys)
