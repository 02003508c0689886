"""Earning use cases: record partner events and award their points, manage the earning rules,
answer a player's points, and accept partner events over REST."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rewards_service.application.commands import (
    EarningResult,
    EarningRuleView,
    RuleStatus,
    ScheduleEarningRule,
)
from rewards_service.application.events import reward_confirmed
from rewards_service.application.partner_events import (
    EVENT_ID_CONFLICT,
    EVENT_REJECTED,
    canonical_uuid,
    conflict_message,
    conflicting,
    parked_event,
    parse_partner_event,
    rejected_message,
    same_event,
)
from rewards_service.application.ports import (
    EventContracts,
    PartnerEventPublisher,
    PointsCache,
    RewardsUnitOfWork,
)
from rewards_service.domain.earning import (
    EarningRule,
    EarningType,
    ParkedEvent,
    PartnerEvent,
    RuleBook,
)
from rewards_service.domain.exceptions import (
    EventSourceNotAllowed,
    InvalidPartnerEvent,
    InvalidPartnerEvents,
    PartnerMismatch,
    PlayerNotFound,
    TooManyPartnerEvents,
)
from rewards_service.domain.ledger import (
    AwardStatus,
    Ledger,
    RecordedEvent,
    Refusal,
    reversal_mismatch,
)
from rewards_service.domain.points import PointsSummary, plan_window
from rewards_service.domain.ports import Lock
from shared.application.events import Topic, dead_letter_headers, format_timestamp
from shared.domain.clock import Clock
from shared.domain.exceptions import DependencyUnavailable
from shared.domain.principal import Principal, Scope

UowFactory = Callable[[], RewardsUnitOfWork]


def taken_event_ids(uow: RewardsUnitOfWork, event_ids: Collection[str]) -> dict[str, PartnerEvent]:
    """The events that hold ``event_ids`` already: recorded, or parked until their player
    registers (a parked event keeps its eventId as surely as a recorded one)."""
    taken = uow.reward_events.recorded(event_ids)
    waiting = [i for i in event_ids if i not in taken]
    for event_id, payload in uow.parked_events.payloads(waiting).items():
        event = parked_event(payload)
        if event is not None:
            taken[event_id] = event
    return taken


#: events in one REST submission
MAX_EVENTS_PER_SUBMISSION = 500


class EventsRecordedConcurrently(DependencyUnavailable):
    """Another consumer recorded (or settled) some of the batch's events meanwhile (a rebalance
    hands a partition over while the old owner still works): the batch is rolled back and
    consumed again, and then those events are seen as recorded."""

    default_message = "Some events were recorded concurrently; the batch will be retried."


class EarningService:
    """Partner events → canonical events, points, REWARD_CONFIRMED: one transaction a batch."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        cache: PointsCache,
        group_id: str = "rewards-reward-events",
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cache = cache
        #: the consumer group named in the dead letters this service writes itself
        self._group_id = group_id
        # Rule versions are immutable: kept here, reloaded when the revision moves.
        self._rules = RuleBook([], revision=-1)

    @property
    def group_id(self) -> str:
        """The consumer group named in the dead letters this service writes itself."""
        return self._group_id

    def record(self, events: Sequence[PartnerEvent]) -> EarningResult:
        """Record the new events of a batch once, price them, confirm them.

        Redelivered events change nothing (the events table is the record of what was
        processed). Events of players rewards does not know yet are parked until the
        registration arrives (:class:`ParkedEventsService`); reversals naming another player's,
        another partner's or another type's event are refused; the others go on. A reversal
        that waited for its original and turns out not to fit it is dead-lettered now, through
        the outbox.
        """
        unique: dict[str, PartnerEvent] = {}
        for event in events:
            unique.setdefault(event.event_id, event)
        now = self._clock.now()
        with self._uow() as uow:
            rules = self._current_rules(uow)
            # Before anything is read: another consumer pricing the same players' events
            # (an original here, its reversal there) commits first, and is then seen.
            uow.reward_events.lock_players({e.player_id for e in unique.values()})
            recorded = taken_event_ids(uow, list(unique))
            # A recorded or parked eventId on another event is no repeat: refused, never
            # dropped unseen.
            conflicts = [
                Refusal(e.event_id, EVENT_ID_CONFLICT, conflict_message(e.event_id))
                for e in unique.values()
                if e.event_id in recorded and not same_event(recorded[e.event_id], e)
            ]
            fresh = [e for e in unique.values() if e.event_id not in recorded]
            replayed = len(events) - len(fresh) - len(conflicts)
            if not fresh:
                uow.commit()
                return EarningResult(refused=conflicts, replayed=replayed)
            known = uow.players.known({e.player_id for e in fresh})
            waiting = [e for e in fresh if e.player_id not in known]
            uow.parked_events.park(waiting, now)
            fresh = [e for e in fresh if e.player_id in known]
            context = uow.reward_events.ledger_context(
                original_ids={e.original_event_id for e in fresh if e.original_event_id},
                earning_ids={e.event_id for e in fresh if not e.is_reversal},
            )
            awards = Ledger(rules, context).award(fresh)
            inserted = uow.reward_events.add_all(list(awards.recorded.values()), now)
            if len(inserted) != len(awards.recorded):
                raise EventsRecordedConcurrently()
            if uow.reward_events.settle(list(awards.settled.values()), now) != len(awards.settled):
                raise EventsRecordedConcurrently()
            uow.player_points.add(awards.increments())
            uow.outbox.add_all(
                Topic.REWARD_CONFIRMED, [reward_confirmed(r, now) for r in awards.confirmed]
            )
            for refusal in awards.refused_later:
                event = awards.settled[refusal.event_id].event
                _dead_letter(
                    uow,
                    event.player_id,
                    event.event_type,
                    event.payload,
                    (refusal.reason, refusal.message),
                    self._group_id,
                    now,
                )
            uow.commit()
        self._cache.invalidate({r.event.player_id for r in awards.confirmed if r.counts})
        return EarningResult(
            refused=[*conflicts, *awards.refused],
            parked=len(waiting),
            confirmed=len(awards.confirmed),
            pending=sum(r.status is AwardStatus.PENDING for r in awards.recorded.values()),
            replayed=replayed,
            rejected_later=[r for r in awards.settled.values() if r.status is AwardStatus.REJECTED],
        )

    def _current_rules(self, uow: RewardsUnitOfWork) -> RuleBook:
        # The share lock keeps a new version from being added while this batch is priced.
        revision = uow.earning_rules.revision(lock=Lock.SHARE)
        if revision != self._rules.revision:
            self._rules = RuleBook(uow.earning_rules.list(), revision)
        return self._rules


@dataclass(frozen=True, slots=True)
class ParkedSweep:
    """What one sweep of the parked events did."""

    released: int
    expired: list[ParkedEvent]
    #: still waiting after the sweep
    waiting: int
    #: a batch was full: sweep again at once rather than after the interval
    more: bool
    #: reversals whose original never came, rejected and dead-lettered now
    reversals_expired: list[RecordedEvent] = field(default_factory=list)


class ConfirmationReplay:
    """Publishes again the ``REWARD_CONFIRMED`` of every event confirmed since a moment — for a
    wallet restored from a backup older than the events it had applied, when the records are no
    longer on the broker (the embedded broker keeps none across a restart; retention ends).
    Harmless to what had them: each keeps its event id (derived from the source event), the
    wallet applies a source event once and notifications store an event id once."""

    # Each page reads reward_events once (no index on awarded_at: the hot path pays for none),
    # so pages are large; a replay covers the hours since a restore point.
    def __init__(self, uow: UowFactory, clock: Clock, batch_size: int = 5000) -> None:
        self._uow = uow
        self._clock = clock
        self._batch_size = batch_size

    def republish(self, since: datetime) -> int:
        """Through the outbox, one transaction per page; how many were published again."""
        after: tuple[datetime, str] | None = None
        count = 0
        while True:
            with self._uow() as uow:
                page = uow.reward_events.confirmed_since(since, after, self._batch_size)
                if not page:
                    return count
                now = self._clock.now()
                uow.outbox.add_again(
                    Topic.REWARD_CONFIRMED, [reward_confirmed(r, now) for _, r in page]
                )
                uow.commit()
            count += len(page)
            awarded_at, last = page[-1]
            after = (awarded_at, last.event_id)


class ParkedEventsService:
    """Events of players rewards does not know yet (a stay posted a moment after sign-up can
    overtake the registration event): once the registration is in, they are published again to
    ``reward-events`` as received, and the consumer records them like any other (idempotent by
    eventId). Those still unknown after ``wait`` are dead-lettered as ``unknown_player``, ready
    to be replayed. Both through the outbox, in the transaction that takes them out."""

    def __init__(
        self,
        uow: UowFactory,
        clock: Clock,
        wait: timedelta,
        group_id: str,
        batch_size: int,
        reversal_wait: timedelta = timedelta(days=7),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._wait = wait
        self._group_id = group_id
        self._batch_size = batch_size
        self._reversal_wait = reversal_wait

    @property
    def group_id(self) -> str:
        """The consumer group named in the dead letters this service writes itself."""
        return self._group_id

    def sweep(self) -> ParkedSweep:
        now = self._clock.now()
        with self._uow() as uow:
            released = uow.parked_events.release(self._batch_size)
            for parked in released:
                uow.outbox.add_message(
                    Topic.REWARD_EVENTS,
                    parked.player_id,
                    parked.payload,
                    _headers(parked.event_type, parked.payload),
                )
            expired = uow.parked_events.expire(now - self._wait, self._batch_size)
            waited = int(self._wait.total_seconds())
            for parked in expired:
                why = f"player {parked.player_id} is not registered (waited {waited} s)"
                _dead_letter(
                    uow,
                    parked.player_id,
                    parked.event_type,
                    parked.payload,
                    ("unknown_player", why),
                    self._group_id,
                    now,
                )
            waiting = uow.parked_events.count()
            uow.commit()
        reversals = self._expire_reversals(now)
        return ParkedSweep(
            released=len(released),
            expired=expired,
            waiting=waiting,
            more=max(len(released), len(expired), len(reversals)) >= self._batch_size,
            reversals_expired=reversals,
        )

    def _expire_reversals(self, now: datetime) -> list[RecordedEvent]:
        """A reversal waits for its original (ADR 0502), but not for ever: one whose original
        has not come after ``reversal_wait`` (a mistyped originalEventId, an original never
        sent) is rejected and dead-lettered ``original_not_found``, so its partner hears of
        it. Its own transaction, after the parked events' (it takes the players' locks)."""
        waited = int(self._reversal_wait.total_seconds())
        with self._uow() as uow:
            expired = uow.reward_events.expire_pending_reversals(
                now - self._reversal_wait, self._batch_size
            )
            for record in expired:
                event = record.event
                why = f"originalEventId {event.original_event_id} did not arrive in {waited} s"
                _dead_letter(
                    uow,
                    event.player_id,
                    event.event_type.value,
                    event.payload,
                    ("original_not_found", why),
                    self._group_id,
                    now,
                )
            uow.commit()
        return expired


def _dead_letter(
    uow: RewardsUnitOfWork,
    player_id: str,
    event_type: str,
    payload: Mapping[str, Any],
    why: tuple[str, str],
    group_id: str,
    now: datetime,
) -> None:
    """Dead-letter a partner event refused after it was taken in (no original offset), through
    the outbox of ``uow``; ``why`` is the reason and its detail."""
    reason, detail = why
    headers = _headers(event_type, payload) | dead_letter_headers(
        reason=reason, detail=detail, topic=Topic.REWARD_EVENTS, group=group_id, failed_at=now
    )
    uow.outbox.add_message(Topic.REWARD_EVENTS.dead_letter, player_id, payload, headers)


def _headers(event_type: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The headers a partner event is republished or dead-lettered with, as a producer sets
    them."""
    correlation_id = payload.get("correlationId")
    headers = {"eventType": str(event_type)}
    if isinstance(correlation_id, str):
        headers["X-Correlation-ID"] = correlation_id
    return headers


class EarningRuleService:
    """Staff read the earning rules and schedule new versions."""

    def __init__(self, uow: UowFactory, clock: Clock, lead: timedelta) -> None:
        self._uow = uow
        self._clock = clock
        self._lead = lead

    def list(self, earning_type: EarningType | None = None) -> list[EarningRuleView]:
        """Every version (current, scheduled, superseded), by type and newest first."""
        with self._uow() as uow:
            book = RuleBook(uow.earning_rules.list())
        now = self._clock.now()
        views: list[EarningRuleView] = []
        for kind in EarningType:
            if earning_type is not None and kind is not earning_type:
                continue
            current = book.rule_at(kind, now)
            for rule in sorted(book.versions(kind), key=lambda r: r.version, reverse=True):
                if rule.withdrawn:
                    status = RuleStatus.WITHDRAWN
                elif current is not None and rule.version == current.version:
                    status = RuleStatus.CURRENT
                elif rule.effective_from > now:
                    status = RuleStatus.SCHEDULED
                else:
                    status = RuleStatus.SUPERSEDED
                views.append(EarningRuleView(rule, status))
        return views

    def schedule(self, command: ScheduleEarningRule, actor: Principal) -> EarningRule:
        """Add the next version of a rule, effective from a moment at least the lead ahead.

        The exclusive lock waits for batches being priced and holds new ones back, so the clock
        is read when no event can be priced under the old versions any more.
        """
        with self._uow() as uow:
            revision = uow.earning_rules.revision(lock=Lock.UPDATE)
            book = RuleBook(uow.earning_rules.list(), revision)
            rule = book.schedule(
                command.earning_type,
                command.effective_from,
                command.parameters,
                now=self._clock.now(),
                lead=self._lead,
                created_by=actor.subject,
            )
            uow.earning_rules.add(rule)
            uow.commit()
        return rule

    def withdraw(self, earning_type: EarningType, version: int, actor: Principal) -> EarningRule:
        """Take back a scheduled version that cannot have priced an event yet (under the same
        exclusive lock as scheduling, so no batch is being priced meanwhile)."""
        with self._uow() as uow:
            revision = uow.earning_rules.revision(lock=Lock.UPDATE)
            book = RuleBook(uow.earning_rules.list(), revision)
            rule = book.withdraw(
                earning_type,
                version,
                now=self._clock.now(),
                lead=self._lead,
                withdrawn_by=actor.subject,
            )
            if rule not in book.versions(earning_type):  # not withdrawn before: record it
                uow.earning_rules.withdraw(rule)
                uow.commit()
        return rule


class PointsService:
    """A player's points over a period, from the stored totals, cached briefly."""

    def __init__(self, uow: UowFactory, clock: Clock, cache: PointsCache) -> None:
        self._uow = uow
        self._clock = clock
        self._cache = cache

    def summary(
        self,
        player_id: str,
        start: datetime | None,
        end: datetime | None,
        viewer: Principal,
    ) -> PointsSummary:
        """The player, staff, or a partner with ``rewards.read``; 404 for unknown players.

        A player asking for their own points exists (the auth service signed their token), even
        when the registration has not reached ``players`` yet: an app showing the points right
        after sign-up gets zero, not a 404."""
        viewer.ensure_can_read_player(player_id, Scope.REWARDS_READ)
        plan = plan_window(start, end)
        # Every digit the period was asked with (microseconds, its offset): two periods that
        # differ below a millisecond are two answers.
        query = "|".join(m.isoformat() if m else "-" for m in (start, end))
        generation = self._cache.generation(player_id)
        cached = self._cache.get(player_id, generation, query)
        if cached is not None:
            return cached
        with self._uow() as uow:
            totals = uow.player_points.totals(player_id, plan)
            if (
                not any(t.events for t in totals.values())
                and not viewer.is_player(player_id)
                and not uow.players.known([player_id])
            ):
                raise PlayerNotFound()
        summary = PointsSummary.of(player_id, totals, start, end, self._clock.now())
        self._cache.put(player_id, generation, query, summary)
        return summary


_PARTNER_EVENT_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:loyalty:partner-event")


def default_event_id(partner_id: str, message: Mapping[str, Any]) -> str:
    """The eventId of a submitted event that names none: the same for the same partner, type,
    player and ``reference`` (the partner's own id of the stay, check or wager; for a reversal
    without one, the event it reverses), so a partner resending a submission whose answer it
    lost is not credited twice. A fresh UUID would be."""
    player = message.get("user_id")
    with contextlib.suppress(InvalidPartnerEvent):
        # One player however the partner spells the id (case, braces): one eventId.
        player = canonical_uuid(player, "invalid_player_id", "user_id")
    reference = message.get("reference")
    original = message.get("originalEventId")
    if reference is None and isinstance(original, str):
        # A reversal need not carry a reference: what it takes back names it (an event is
        # reversed once; a second reversal of it is a repeat either way).
        with contextlib.suppress(InvalidPartnerEvent):
            original = canonical_uuid(original, "invalid_reversal", "originalEventId")
        reference = f"reverses:{original}"
    parts = [partner_id, message.get("eventType"), player, reference]
    if not all(isinstance(part, str) and part for part in parts):
        return str(uuid.uuid4())  # refused by the schema anyway
    return str(uuid.uuid5(_PARTNER_EVENT_IDS, "\n".join(parts)))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AcceptedEvents:
    event_ids: list[str]
    #: players not registered (yet) when the events were accepted
    unregistered_players: list[str]


class PartnerEventIngestion:
    """Partner events over REST: checked like the consumer checks them, then handed to Kafka.

    Nothing is stored here; the consumer records them (idempotent by eventId), so a partner
    may resend a submission whose answer it did not get.
    """

    def __init__(
        self,
        clock: Clock,
        contracts: EventContracts,
        publisher: PartnerEventPublisher,
        max_ahead: timedelta,
        uow: UowFactory,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._contracts = contracts
        self._publisher = publisher
        self._max_ahead = max_ahead

    def submit(
        self,
        messages: Sequence[Mapping[str, Any]],
        partner: Principal,
        correlation_id: str | None = None,
    ) -> AcceptedEvents:
        """Complete, check and publish the events (all or none); returns their eventIds, and
        the players among them rewards does not know (yet): their events wait for the
        registration and are dead-lettered if it never comes (ADR 0506).

        The partner sends the type's fields; ``partnerId`` is its client id (filled in when
        missing, 403 when another), ``eventId`` derived from the event's identity when
        missing (:func:`default_event_id`) and ``occurredAt`` now, ``version`` 1,
        ``correlationId`` the request's.
        """
        if len(messages) > MAX_EVENTS_PER_SUBMISSION:
            raise TooManyPartnerEvents(
                f"At most {MAX_EVENTS_PER_SUBMISSION} events can be submitted at once."
            )
        partner_id = partner.client_id or partner.subject
        now = self._clock.now()
        completed: list[dict[str, Any]] = []
        parsed: dict[int, PartnerEvent] = {}
        problems: dict[str, str] = {}
        refused: dict[str, str] = {}
        for index, message in enumerate(messages):
            if message.get("partnerId", partner_id) != partner_id:
                raise PartnerMismatch()
            document: dict[str, Any] = {
                "eventId": default_event_id(partner_id, message),
                "version": 1,
                "occurredAt": format_timestamp(now),
                "correlationId": correlation_id,
                **message,
                "partnerId": partner_id,
            }
            problem = self._contracts.problem(document)
            if problem is None:
                try:
                    event = parse_partner_event(document, now, self._max_ahead)
                    # The key is the player id: one spelling of it for key and body.
                    document["user_id"] = event.player_id
                    document["eventId"] = event.event_id
                except InvalidPartnerEvent as exc:
                    problem = f"{exc.reason}: {exc.message}"
                else:
                    parsed[index] = event
                    if not partner.may_send_events_of(event.source.value):
                        refused[str(index)] = event.event_type.value
            if problem is not None:
                problems[str(index)] = problem
            else:
                completed.append(document)
        if refused:
            raise EventSourceNotAllowed(refused, partner.event_sources or frozenset())
        players = {d["user_id"] for d in completed}
        originals = {e.original_event_id for e in parsed.values() if e.original_event_id}
        with self._uow() as uow:
            recorded = taken_event_ids(uow, {e.event_id for e in parsed.values()} | originals)
            repeats = {e.event_id for e in parsed.values()} & recorded.keys()
            rejected = uow.reward_events.rejected(repeats) if repeats else set()
            known = uow.players.known(players)
            book = RuleBook(uow.earning_rules.list())
        for index, problem in _recorded_state_problems(parsed, recorded, rejected, book).items():
            problems.setdefault(str(index), problem)
        if problems:
            raise InvalidPartnerEvents(problems)
        self._publisher.publish(completed)
        return AcceptedEvents(
            event_ids=[d["eventId"] for d in completed],
            unregistered_players=sorted(players - known),
        )


def _recorded_state_problems(
    parsed: Mapping[int, PartnerEvent],
    recorded: Mapping[str, PartnerEvent],
    rejected: Collection[str],
    book: RuleBook,
) -> dict[int, str]:
    """What the consumer would refuse the parsed events for, given what is recorded (and which
    of the recorded were rejected)."""
    problems: dict[int, str] = {}
    # An eventId already taken by another event would be dropped by the consumer as a
    # repeat: the partner hears it now (a dead letter says so for those produced to Kafka).
    for index in conflicting(parsed, recorded):
        problems[index] = f"{EVENT_ID_CONFLICT}: {conflict_message(parsed[index].event_id)}"
    # A resend of a rejected event (the same derived eventId) would change nothing: the
    # consumer takes it for a repeat (as it must a replayed record, ADR 0502).
    for index, event in parsed.items():
        if event.event_id in rejected:
            problems.setdefault(index, f"{EVENT_REJECTED}: {rejected_message(event.event_id)}")
    # Priced as the consumer will price them: the rule in force at an event's time is fixed
    # by now (a new version starts at least max_ahead from now, ADR 0501). A reversal of an
    # event known already (recorded, parked, or in this submission) must match it.
    submitted = {e.event_id: e for e in parsed.values()}
    for index, event in parsed.items():
        if event.is_reversal:
            original_id = event.original_event_id or ""
            original = submitted.get(original_id) or recorded.get(original_id)
            mismatch = reversal_mismatch(event, original) if original else None
            problem = f"reversal_mismatch: {mismatch}" if mismatch else None
        else:
            problem = _pricing_problem(book, event)
        if problem is not None:
            problems.setdefault(index, problem)
    return problems


def _pricing_problem(book: RuleBook, event: PartnerEvent) -> str | None:
    """What the consumer would dead-letter ``event`` for when pricing it, if anything."""
    earning_type = event.event_type.earning_type
    rule = book.rule_at(earning_type, event.occurred_at)
    if rule is None:
        return f"no_earning_rule: no {earning_type} rule at that time"
    try:
        rule.points_for(event)
    except InvalidPartnerEvent as exc:
        return f"{exc.reason}: {exc.message}"
    return None
