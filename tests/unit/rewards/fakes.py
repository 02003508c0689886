"""In-memory adapters of the rewards ports: a unit of work that commits or forgets its changes."""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any, Self, TypeVar

from rewards_service.application.ports import (
    CreditNotes,
    EventContracts,
    PartnerEventPublisher,
    PointsCache,
    RecordedCredit,
    RewardsUnitOfWork,
    WalletCredit,
    WalletGateway,
)
from rewards_service.domain.earning import (
    DEFAULT_PARAMETERS,
    EarningRule,
    EarningSource,
    EarningType,
    ParkedEvent,
    PartnerEvent,
)
from rewards_service.domain.exceptions import (
    EventBrokerUnavailable,
    OverlappingPromotion,
    WalletUnavailable,
)
from rewards_service.domain.ledger import (
    AwardStatus,
    LedgerContext,
    PointsIncrement,
    RecordedEvent,
)
from rewards_service.domain.model import (
    AssignedPromotion,
    Player,
    PlayerPromotion,
    Promotion,
    PromotionType,
)
from rewards_service.domain.points import PointsSummary, SourceTotal, WindowPlan
from rewards_service.domain.ports import (
    EarningRuleRepository,
    Lock,
    ParkedEventRepository,
    PendingCredit,
    PendingCreditRepository,
    PlayerPointsRepository,
    PlayerPromotionFilter,
    PlayerPromotionRepository,
    PlayerRepository,
    PromotionFilter,
    PromotionRepository,
    RewardEventRepository,
)
from shared.application.events import IntegrationEvent, Topic
from shared.application.unit_of_work import Outbox, ProcessedEvents
from shared.domain.pagination import Page, PageRequest
from shared.messaging.schemas import EventSchemaError, event_schemas

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def default_rules() -> list[EarningRule]:
    return [
        EarningRule(t, 1, EPOCH, DEFAULT_PARAMETERS[t], created_at=EPOCH, created_by="migration")
        for t in EarningType
    ]


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    key: str
    message: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Store:
    promotions: dict[str, Promotion] = field(default_factory=dict)
    players: dict[str, Player] = field(default_factory=dict)
    assignments: dict[str, PlayerPromotion] = field(default_factory=dict)
    outbox: list[tuple[Topic, IntegrationEvent]] = field(default_factory=list)
    #: messages recorded as they are (partner events published again, dead letters)
    messages: list[OutboxMessage] = field(default_factory=list)
    parked: dict[str, ParkedEvent] = field(default_factory=dict)
    pending_credits: dict[str, PendingCredit] = field(default_factory=dict)
    processed: set[tuple[str, str]] = field(default_factory=set)
    rules: list[EarningRule] = field(default_factory=default_rules)
    events: dict[str, RecordedEvent] = field(default_factory=dict)
    recorded_at: dict[str, datetime] = field(default_factory=dict)
    #: what the stored daily totals hold, by (player, day, source): [points, events]
    daily: dict[tuple[str, Any, EarningSource], list[int]] = field(default_factory=dict)
    rule_locks: list[Lock] = field(default_factory=list)
    #: the players each pricing transaction locked
    locked_players: list[list[str]] = field(default_factory=list)
    rule_withdrawals: int = 0

    def confirmations(self) -> list[IntegrationEvent]:
        return [e for t, e in self.outbox if t is Topic.REWARD_CONFIRMED]


T = TypeVar("T")


def _page(items: list[T], page: PageRequest) -> Page[T]:
    return Page(
        items=items[page.offset : page.offset + page.page_size], total=len(items), request=page
    )


class FakePromotions(PromotionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def _refuse_overlap(self, promotion: Promotion) -> None:
        # What the exclusion constraint does in PostgreSQL.
        if any(promotion.conflicts_with(other) for other in self._store.promotions.values()):
            raise OverlappingPromotion()

    def add(self, promotion: Promotion) -> None:
        self._refuse_overlap(promotion)
        self._store.promotions[promotion.id] = promotion

    def get(self, promotion_id: str, lock: Lock = Lock.NONE) -> Promotion | None:
        return self._store.promotions.get(promotion_id)

    def update(self, promotion: Promotion) -> None:
        self._refuse_overlap(promotion)
        self._store.promotions[promotion.id] = promotion

    def hold(self, promotion_id: str, exclusive: bool = False) -> None:
        """One thread at a time in these tests: nothing to wait for."""

    def count_claim(self, promotion_id: str, within_limit: bool = True) -> bool:
        promotion = self._store.promotions[promotion_id]
        if within_limit and promotion.claims_used_up:
            return False
        self._store.promotions[promotion_id] = replace(
            promotion, claims_count=promotion.claims_count + 1
        )
        return True

    def list(self, filters: PromotionFilter, page: PageRequest) -> Page[Promotion]:
        found = [
            p
            for p in self._store.promotions.values()
            if (filters.type is None or p.type is filters.type)
            and (filters.active is None or p.is_active is filters.active)
            and (filters.window_from is None or p.end_date > filters.window_from)
            and (filters.window_to is None or p.start_date < filters.window_to)
            and (not filters.text or filters.text.lower() in f"{p.title}\n{p.description}".lower())
        ]
        found.sort(key=lambda p: (p.start_date, p.id), reverse=True)
        return _page(found, page)

    def running(
        self, promotion_type: PromotionType, now: datetime, lock: Lock = Lock.NONE
    ) -> Promotion | None:
        running = [
            p
            for p in self._store.promotions.values()
            if p.type is promotion_type and p.is_running(now)
        ]
        return max(running, key=lambda p: p.start_date, default=None)


class FakePlayers(PlayerRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, players: Sequence[Player]) -> set[str]:
        added = {p.id for p in players if p.id not in self._store.players}
        for player in players:
            self._store.players.setdefault(player.id, player)
        return added

    def known(self, player_ids: Collection[str]) -> set[str]:
        return {p for p in player_ids if p in self._store.players}


class FakePendingCredits(PendingCreditRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def remove(self, idempotency_key: str) -> bool:
        return self._store.pending_credits.pop(idempotency_key, None) is not None

    def due(self, noted_before: datetime, limit: int) -> list[PendingCredit]:
        due = [p for p in self._store.pending_credits.values() if p.noted_at < noted_before]
        return sorted(due, key=lambda p: p.noted_at)[:limit]

    def count(self) -> int:
        return len(self._store.pending_credits)


class FakeCreditNotes(CreditNotes):
    """Kept in the committed store at once, as the autocommitted insert keeps them."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def note(self, pending: PendingCredit) -> None:
        self._store.pending_credits.setdefault(pending.idempotency_key, pending)


class FakeParkedEvents(ParkedEventRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def park(self, events: Sequence[PartnerEvent], now: datetime) -> None:
        for e in events:
            self._store.parked.setdefault(
                e.event_id,
                ParkedEvent(e.event_id, e.player_id, e.event_type.value, e.payload, now),
            )

    def payloads(self, event_ids: Collection[str]) -> dict[str, Mapping[str, Any]]:
        return {i: self._store.parked[i].payload for i in event_ids if i in self._store.parked}

    def _take(self, due: list[ParkedEvent], limit: int) -> list[ParkedEvent]:
        for parked in due[:limit]:
            del self._store.parked[parked.event_id]
        return due[:limit]

    def release(self, limit: int) -> list[ParkedEvent]:
        players = self._store.players
        return self._take([p for p in self._store.parked.values() if p.player_id in players], limit)

    def expire(self, parked_before: datetime, limit: int) -> list[ParkedEvent]:
        due = [
            p
            for p in self._store.parked.values()
            if p.parked_at < parked_before and p.player_id not in self._store.players
        ]
        return self._take(due, limit)

    def count(self) -> int:
        return len(self._store.parked)


class FakePlayerPromotions(PlayerPromotionRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, assignments: Sequence[PlayerPromotion]) -> list[PlayerPromotion]:
        added = []
        for assignment in assignments:
            if assignment.player_id not in self._store.players:
                raise AssertionError("foreign key: unknown player")
            if self.exists(assignment.player_id, assignment.promotion_id):
                continue
            self._store.assignments[assignment.id] = assignment
            added.append(assignment)
        return added

    def exists(self, player_id: str, promotion_id: str) -> bool:
        return any(
            a.player_id == player_id and a.promotion_id == promotion_id
            for a in self._store.assignments.values()
        )

    def get_for_player(
        self, player_id: str, promotion_id: str, lock: Lock = Lock.NONE
    ) -> PlayerPromotion | None:
        return next(
            (
                a
                for a in self._store.assignments.values()
                if a.player_id == player_id and a.promotion_id == promotion_id
            ),
            None,
        )

    def update(self, assignment: PlayerPromotion) -> None:
        self._store.assignments[assignment.id] = assignment

    def list_for_player(
        self, player_id: str, filters: PlayerPromotionFilter, page: PageRequest, now: datetime
    ) -> Page[AssignedPromotion]:
        found = [
            AssignedPromotion(a, self._store.promotions[a.promotion_id])
            for a in self._store.assignments.values()
            if a.player_id == player_id
        ]
        found = [
            f
            for f in found
            if (filters.type is None or f.promotion.type is filters.type)
            and (
                filters.status is None or f.assignment.status_at(f.promotion, now) is filters.status
            )
        ]
        found.sort(key=lambda f: (f.assignment.assigned_at, f.assignment.id), reverse=True)
        return _page(found, page)


class FakeOutbox(Outbox):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, topic: Topic, event: IntegrationEvent, key: str | None = None) -> None:
        event_schemas().validate(event.to_message())  # the contract, as the real outbox checks
        self._store.outbox.append((topic, event))

    def add_message(
        self, topic: str, key: str, message: Mapping[str, Any], headers: Mapping[str, str]
    ) -> None:
        self._store.messages.append(OutboxMessage(topic, key, dict(message), dict(headers)))


class FakeProcessedEvents(ProcessedEvents):
    def __init__(self, store: Store) -> None:
        self._store = store

    def add_new(self, consumer: str, event_ids: list[str]) -> set[str]:
        new = {e for e in event_ids if (consumer, e) not in self._store.processed}
        self._store.processed.update((consumer, e) for e in new)
        return new


class FakeEarningRules(EarningRuleRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def revision(self, lock: Lock = Lock.NONE) -> int:
        self._store.rule_locks.append(lock)
        return len(self._store.rules) + self._store.rule_withdrawals

    def list(self) -> list[EarningRule]:
        return list(self._store.rules)

    def add(self, rule: EarningRule) -> None:
        if any(
            (r.earning_type, r.version) == (rule.earning_type, rule.version)
            for r in self._store.rules
        ):
            raise AssertionError("unique (earning_type, version)")
        self._store.rules.append(rule)

    def withdraw(self, rule: EarningRule) -> None:
        rules = self._store.rules
        index = next(
            i
            for i, r in enumerate(rules)
            if (r.earning_type, r.version) == (rule.earning_type, rule.version)
        )
        assert not self._store.rules[index].withdrawn, "unique withdrawal"
        self._store.rules[index] = rule
        self._store.rule_withdrawals += 1


class FakeRewardEvents(RewardEventRepository):
    def __init__(self, store: Store) -> None:
        self._store = store

    def lock_players(self, player_ids: Collection[str]) -> None:
        self._store.locked_players.append(sorted(player_ids))

    def recorded(self, event_ids: Collection[str]) -> dict[str, PartnerEvent]:
        return {e: self._store.events[e].event for e in event_ids if e in self._store.events}

    def rejected(self, event_ids: Collection[str]) -> set[str]:
        events = self._store.events
        return {e for e in event_ids if e in events and events[e].status is AwardStatus.REJECTED}

    def ledger_context(
        self, original_ids: Collection[str], earning_ids: Collection[str]
    ) -> LedgerContext:
        events = self._store.events
        wanted = set(original_ids) | set(earning_ids)
        pending: dict[str, list[RecordedEvent]] = {}
        for record in events.values():
            original = record.event.original_event_id
            if original in wanted and record.status is AwardStatus.PENDING:
                pending.setdefault(original, []).append(record)
        return LedgerContext(
            originals={i: events[i] for i in original_ids if i in events},
            reversed_originals={
                r.event.original_event_id or ""
                for r in events.values()
                if r.event.original_event_id in wanted and r.status is AwardStatus.AWARDED
            },
            pending=pending,
        )

    def add_all(self, records: Sequence[RecordedEvent], now: datetime) -> set[str]:
        inserted = set()
        for record in records:
            if record.event_id not in self._store.events:
                self._store.events[record.event_id] = record
                self._store.recorded_at[record.event_id] = now
                inserted.add(record.event_id)
        return inserted

    def settle(self, records: Sequence[RecordedEvent], now: datetime) -> int:
        settled = 0
        for record in records:
            if self._store.events[record.event_id].status is AwardStatus.PENDING:
                self._store.events[record.event_id] = record
                settled += 1
        return settled

    def confirmed_since(
        self, since: datetime, after: tuple[datetime, str] | None, limit: int
    ) -> list[tuple[datetime, RecordedEvent]]:
        # Recorded and awarded at once here (a settled reversal counts from its recording).
        confirmed = sorted(
            (self._store.recorded_at[event_id], event_id, record)
            for event_id, record in self._store.events.items()
            if record.status.is_confirmed and self._store.recorded_at.get(event_id, since) >= since
        )
        return [
            (at, record)
            for at, event_id, record in confirmed
            if after is None or (at, event_id) > after
        ][:limit]

    def expire_pending_reversals(
        self, recorded_before: datetime, limit: int
    ) -> list[RecordedEvent]:
        expired: list[RecordedEvent] = []
        for event_id, record in list(self._store.events.items()):
            waited = self._store.recorded_at.get(event_id, recorded_before) < recorded_before
            if record.status is AwardStatus.PENDING and waited and len(expired) < limit:
                rejected = RecordedEvent(record.event, AwardStatus.REJECTED, 0, None)
                self._store.events[event_id] = rejected
                expired.append(rejected)
        return expired


class FakePlayerPoints(PlayerPointsRepository):
    """Keeps the daily totals like the adapter; answers a period from the recorded events (the
    plan's split is the adapter's business and is checked against PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, increments: Sequence[PointsIncrement]) -> None:
        for item in increments:
            entry = self._store.daily.setdefault((item.player_id, item.day, item.source), [0, 0])
            entry[0] += item.points
            entry[1] += item.events

    def totals(self, player_id: str, plan: WindowPlan) -> dict[EarningSource, SourceTotal]:
        start, end = _bounds(plan)
        totals: dict[EarningSource, SourceTotal] = {}
        for record in self._store.events.values():
            event = record.event
            if event.player_id != player_id or not record.counts:
                continue
            if (start and event.occurred_at < start) or (end and event.occurred_at >= end):
                continue
            found = totals.get(event.source, SourceTotal())
            totals[event.source] = SourceTotal(found.points + record.points, found.events + 1)
        return totals


def _bounds(plan: WindowPlan) -> tuple[datetime | None, datetime | None]:
    """The period a plan covers (the union of its pieces is one interval)."""
    starts: list[datetime | None] = []
    ends: list[datetime | None] = []

    def moment(day: Any) -> datetime | None:
        return None if day is None else datetime.combine(day, time(0), tzinfo=UTC)

    if plan.months is not None:
        starts.append(moment(plan.months.start))
        ends.append(moment(plan.months.end))
    for span in plan.days:
        starts.append(moment(span.start))
        ends.append(moment(span.end))
    for piece in plan.moments:
        starts.append(piece.start)
        ends.append(piece.end)
    start = None if None in starts else min(s for s in starts if s is not None)
    end = None if None in ends else max(e for e in ends if e is not None)
    return start, end


class FakeUnitOfWork(RewardsUnitOfWork):
    """Works on a copy of the store; commit publishes the copy, anything else forgets it."""

    def __init__(self, store: Store) -> None:
        self._committed = store
        self.commits = 0

    def __enter__(self) -> Self:
        self._work = copy.deepcopy(self._committed)
        self.promotions = FakePromotions(self._work)
        self.players = FakePlayers(self._work)
        self.player_promotions = FakePlayerPromotions(self._work)
        self.outbox = FakeOutbox(self._work)
        self.processed_events = FakeProcessedEvents(self._work)
        self.earning_rules = FakeEarningRules(self._work)
        self.reward_events = FakeRewardEvents(self._work)
        self.player_points = FakePlayerPoints(self._work)
        self.parked_events = FakeParkedEvents(self._work)
        self.pending_credits = FakePendingCredits(self._work)
        return self

    def commit(self) -> None:
        for name in vars(self._committed):
            setattr(self._committed, name, copy.deepcopy(getattr(self._work, name)))
        self.commits += 1

    def rollback(self) -> None:
        """Nothing to undo: the working copy is dropped at the next ``with``."""


class FakeWallet(WalletGateway):
    """Credits once per idempotency key, like the real wallet; can be told to be down."""

    def __init__(self) -> None:
        self.credits: dict[str, tuple[str, Decimal]] = {}
        self.credited_at: dict[str, datetime] = {}
        self.down = False
        self.calls = 0

    def recorded_credit(self, idempotency_key: str) -> RecordedCredit | None:
        if self.down:
            raise WalletUnavailable()
        if idempotency_key not in self.credits:
            return None
        player_id, amount = self.credits[idempotency_key]
        return RecordedCredit(
            transaction_id=f"tx-{idempotency_key}",
            player_id=player_id,
            amount=amount,
            bonus_balance=self._balance(player_id),
            created_at=self.credited_at[idempotency_key],
        )

    def _balance(self, player_id: str) -> Decimal:
        return sum((a for p, a in self.credits.values() if p == player_id), start=Decimal("0.00"))

    def credit_bonus(
        self,
        player_id: str,
        amount: Decimal,
        description: str,
        additional_data: Mapping[str, str],
        idempotency_key: str,
    ) -> WalletCredit:
        self.calls += 1
        if self.down:
            raise WalletUnavailable()
        replayed = idempotency_key in self.credits
        self.credits.setdefault(idempotency_key, (player_id, amount))
        self.credited_at.setdefault(idempotency_key, datetime.now(UTC))
        return WalletCredit(
            transaction_id=f"tx-{idempotency_key}",
            bonus_balance=self._balance(player_id),
            replayed=replayed,
        )


class FakePointsCache(PointsCache):
    def __init__(self) -> None:
        self.generations: dict[str, str] = {}
        self.entries: dict[tuple[str, str, str], PointsSummary] = {}

    def generation(self, player_id: str) -> str:
        return self.generations.get(player_id, "0")

    def get(self, player_id: str, generation: str, query: str) -> PointsSummary | None:
        return self.entries.get((player_id, generation, query))

    def put(self, player_id: str, generation: str, query: str, summary: PointsSummary) -> None:
        self.entries[(player_id, generation, query)] = summary

    def invalidate(self, player_ids: Collection[str]) -> None:
        for player_id in player_ids:
            self.generations[player_id] = self.generations.get(player_id, "0") + "+"


class SchemaContracts(EventContracts):
    """The real contracts (docs/events): they are plain files, no server needed."""

    def problem(self, message: Mapping[str, Any]) -> str | None:
        try:
            event_schemas().validate(message)
        except EventSchemaError as exc:
            return str(exc)
        return None


class FakePublisher(PartnerEventPublisher):
    def __init__(self) -> None:
        self.published: list[Mapping[str, Any]] = []
        self.down = False

    def publish(self, messages: Sequence[Mapping[str, Any]]) -> None:
        if self.down:
            raise EventBrokerUnavailable()
        self.published.extend(messages)
