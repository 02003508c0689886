"""The points ledger: prices a batch of new partner events against what is already recorded.

Each canonical event is recorded once. An earning event earns what the rule effective at its
``occurredAt`` gives. A reversal takes back exactly what its original earned; a second reversal
of the same original earns 0; a reversal that arrives before its original waits (PENDING) and is
settled when the original comes, so both confirmations go out, in that order, each once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from enum import StrEnum

from rewards_service.domain.earning import (
    EarningSource,
    PartnerEvent,
    RuleBook,
)
from rewards_service.domain.exceptions import InvalidPartnerEvent


class AwardStatus(StrEnum):
    #: points awarded (an earning, or the reversal that takes them back); confirmed once
    AWARDED = "AWARDED"
    #: a further reversal of an original already reversed: 0 points, confirmed once
    DUPLICATE = "DUPLICATE"
    #: a reversal whose original has not arrived yet: nothing awarded or confirmed yet
    PENDING = "PENDING"
    #: a pending reversal whose original turned out to be another player's, partner's or type
    REJECTED = "REJECTED"

    @property
    def is_confirmed(self) -> bool:
        return self in (AwardStatus.AWARDED, AwardStatus.DUPLICATE)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """A canonical event with what it was awarded (stored once, never repriced)."""

    event: PartnerEvent
    status: AwardStatus
    points: int
    rule_version: int | None

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def counts(self) -> bool:
        """Part of the player's totals (a duplicate reversal adds 0 and is not counted)."""
        return self.status is AwardStatus.AWARDED


@dataclass(frozen=True, slots=True)
class Refusal:
    event_id: str
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class PointsIncrement:
    """What a batch adds to one player's totals of one source on one (UTC) day."""

    player_id: str
    day: date
    source: EarningSource
    points: int
    events: int


@dataclass(frozen=True, slots=True)
class LedgerContext:
    """What the ledger needs to know from earlier batches about the events of this one."""

    #: recorded events that reversals of the batch name as their original
    originals: Mapping[str, RecordedEvent] = field(default_factory=dict)
    #: ids of originals already taken back by an awarded reversal
    reversed_originals: Collection[str] = field(default_factory=frozenset)
    #: pending reversals waiting for an earning event of the batch, by original id, oldest first
    pending: Mapping[str, Sequence[RecordedEvent]] = field(default_factory=dict)


@dataclass
class Awards:
    """The outcome of one batch."""

    #: new events to record, in batch order (pending reversals settled in the batch included)
    recorded: dict[str, RecordedEvent] = field(default_factory=dict)
    #: pending reversals of earlier batches decided now
    settled: dict[str, RecordedEvent] = field(default_factory=dict)
    #: one REWARD_CONFIRMED each, in this order
    confirmed: list[RecordedEvent] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    #: why each settled reversal that turned out not to fit its original was rejected: it was
    #: committed in an earlier batch, so it is dead-lettered now rather than as delivered
    refused_later: list[Refusal] = field(default_factory=list)

    def increments(self) -> list[PointsIncrement]:
        """Per player, day and source: what the confirmed events add (sorted, so concurrent
        batches touch the rows in one order)."""
        totals: dict[tuple[str, date, EarningSource], list[int]] = {}
        for record in self.confirmed:
            if not record.counts:
                continue
            event = record.event
            key = (event.player_id, event.occurred_at.astimezone(UTC).date(), event.source)
            entry = totals.setdefault(key, [0, 0])
            entry[0] += record.points
            entry[1] += 1
        return [
            PointsIncrement(player, day, source, points, events)
            for (player, day, source), (points, events) in sorted(totals.items())
        ]


class Ledger:
    def __init__(self, rules: RuleBook, context: LedgerContext) -> None:
        self._rules = rules
        self._known: dict[str, RecordedEvent] = dict(context.originals)
        self._reversed = set(context.reversed_originals)
        self._pending: dict[str, list[RecordedEvent]] = {
            original: list(reversals) for original, reversals in context.pending.items()
        }
        self._earlier = {r.event_id for rs in context.pending.values() for r in rs}

    def award(self, events: Sequence[PartnerEvent]) -> Awards:
        """Price ``events`` (new, deduplicated, of known players) in order."""
        awards = Awards()
        for event in events:
            if event.is_reversal:
                self._reverse(event, awards)
            else:
                self._earn(event, awards)
        return awards

    def _earn(self, event: PartnerEvent, awards: Awards) -> None:
        earning_type = event.event_type.earning_type
        rule = self._rules.rule_at(earning_type, event.occurred_at)
        if rule is None:
            awards.refused.append(
                Refusal(event.event_id, "no_earning_rule", f"no {earning_type} rule at that time")
            )
            return
        try:
            points = rule.points_for(event)
        except InvalidPartnerEvent as exc:
            awards.refused.append(Refusal(event.event_id, exc.reason, exc.message))
            return
        record = RecordedEvent(event, AwardStatus.AWARDED, points, rule.version)
        awards.recorded[event.event_id] = record
        awards.confirmed.append(record)
        self._known[event.event_id] = record
        for waiting in self._pending.pop(event.event_id, []):
            decided = self._decide(waiting.event, record)
            if waiting.event_id in self._earlier:
                awards.settled[waiting.event_id] = decided
                if decided.status is AwardStatus.REJECTED:
                    awards.refused_later.append(_mismatch(waiting.event, record))
            elif decided.status is AwardStatus.REJECTED:
                # Still in this batch: dead-letter it like any other refused event.
                del awards.recorded[waiting.event_id]
                awards.refused.append(_mismatch(waiting.event, record))
                continue
            else:
                awards.recorded[waiting.event_id] = decided
            if decided.status.is_confirmed:
                awards.confirmed.append(decided)

    def _reverse(self, event: PartnerEvent, awards: Awards) -> None:
        original_id = event.original_event_id or ""
        original = self._known.get(original_id)
        if original is None:
            pending = RecordedEvent(event, AwardStatus.PENDING, 0, None)
            awards.recorded[event.event_id] = pending
            self._known[event.event_id] = pending
            self._pending.setdefault(original_id, []).append(pending)
            return
        decided = self._decide(event, original)
        if decided.status is AwardStatus.REJECTED:
            awards.refused.append(_mismatch(event, original))
            return
        awards.recorded[event.event_id] = decided
        awards.confirmed.append(decided)
        self._known[event.event_id] = decided

    def _decide(self, reversal: PartnerEvent, original: RecordedEvent) -> RecordedEvent:
        if not _reverses(reversal, original.event):
            return RecordedEvent(reversal, AwardStatus.REJECTED, 0, None)
        if original.event_id in self._reversed:
            return RecordedEvent(reversal, AwardStatus.DUPLICATE, 0, original.rule_version)
        self._reversed.add(original.event_id)
        return RecordedEvent(reversal, AwardStatus.AWARDED, -original.points, original.rule_version)


def _reverses(reversal: PartnerEvent, original: PartnerEvent) -> bool:
    return (
        not original.is_reversal
        and original.player_id == reversal.player_id
        and original.partner_id == reversal.partner_id
        and original.event_type.earning_type is reversal.event_type.earning_type
    )


def reversal_mismatch(reversal: PartnerEvent, original: PartnerEvent) -> str | None:
    """Why ``reversal`` cannot take back ``original`` (None when it can)."""
    if _reverses(reversal, original):
        return None
    if original.is_reversal:
        detail = "is itself a reversal"
    elif original.player_id != reversal.player_id:
        detail = "belongs to another player"
    elif original.partner_id != reversal.partner_id:
        detail = "was sent by another partner"
    else:
        detail = f"is a {original.event_type}, not a {reversal.event_type.earning_type}"
    return f"originalEventId {reversal.original_event_id} {detail}"


def _mismatch(reversal: PartnerEvent, original: RecordedEvent) -> Refusal:
    detail = reversal_mismatch(reversal, original.event) or "does not match"
    return Refusal(reversal.event_id, "reversal_mismatch", detail)
