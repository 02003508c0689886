"""Earning use cases with in-memory adapters: recording batches, rules, points, REST ingestion."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from rewards_service.application.commands import RuleStatus, ScheduleEarningRule
from rewards_service.application.earning import (
    EarningRuleService,
    EarningService,
    EventsRecordedConcurrently,
    ParkedEventsService,
    PartnerEventIngestion,
    PointsService,
)
from rewards_service.application.partner_events import parse_partner_event
from rewards_service.controllers.consumers import ParkedEventsSweep
from rewards_service.domain.earning import EarningParameters, EarningSource, EarningType
from rewards_service.domain.exceptions import (
    EventBrokerUnavailable,
    EventSourceNotAllowed,
    InvalidEarningRule,
    InvalidPartnerEvent,
    InvalidPartnerEvents,
    PartnerMismatch,
    PlayerNotFound,
    TooManyPartnerEvents,
)
from rewards_service.domain.ledger import AwardStatus
from rewards_service.domain.model import Player
from rewards_service.domain.ports import Lock
from shared.domain.clock import FixedClock
from shared.domain.exceptions import PermissionDenied
from shared.domain.principal import Principal, Role
from shared.observability.logging import configure_logging
from tests.unit.rewards.fakes import (
    FakePointsCache,
    FakePublisher,
    FakeUnitOfWork,
    SchemaContracts,
    Store,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
AHEAD = timedelta(minutes=5)
STAFF = Principal(subject=str(uuid.uuid4()), role=Role.STAFF)
CASINO = Principal(subject="casino", scopes=frozenset({"rewards.write", "rewards.read"}))


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def cache() -> FakePointsCache:
    return FakePointsCache()


@pytest.fixture
def earning(store: Store, clock: FixedClock, cache: FakePointsCache) -> EarningService:
    return EarningService(uow=lambda: FakeUnitOfWork(store), clock=clock, cache=cache)


@pytest.fixture
def players(store: Store) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    store.players.update({p: Player(p, NOW) for p in ids})
    return ids


def message(player: str, event_type: str = "CASINO_SPEND", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "version": 1,
        "occurredAt": "2026-06-01T10:00:00Z",
        "correlationId": "req-1",
        "user_id": player,
        "partnerId": "casino",
        "reference": "T-100",
    }
    defaults: dict[str, dict[str, Any]] = {
        "CASINO_SPEND": {"amountWagered": "125.00"},
        "DINING": {"checkAmount": "48.20"},
        "HOTEL_STAY": {"nights": 2},
    }
    body.update(defaults.get(event_type, {}))
    body.update(fields)
    return body


def reversal_of(original: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = message(
        original["user_id"],
        f"{original['eventType']}_REVERSED",
        originalEventId=original["eventId"],
    )
    body.pop("reference")
    body.update(fields)
    return body


def parsed(*messages: dict[str, Any]) -> list[Any]:
    return [parse_partner_event(m, NOW, AHEAD) for m in messages]


# -- recording events -------------------------------------------------------------------------


def test_a_batch_is_recorded_priced_and_confirmed_once(
    earning: EarningService, store: Store, players: list[str], cache: FakePointsCache
) -> None:
    batch = [message(players[0]), message(players[1], "DINING"), message(players[0], "HOTEL_STAY")]
    result = earning.record(parsed(*batch))
    assert result.confirmed == 3
    assert not result.refused
    confirmations = store.confirmations()
    assert [(c.user_id, c.data["pointsAwarded"]) for c in confirmations] == [
        (players[0], 12),
        (players[1], 9),
        (players[0], 20),
    ]
    first = confirmations[0]
    assert first.data["sourceEventId"] == batch[0]["eventId"]
    assert first.data["sourceEventType"] == "CASINO_SPEND"
    assert first.data["ruleVersion"] == 1
    assert first.correlation_id == "req-1"
    assert set(cache.generations) == {players[0], players[1]}
    # The whole batch is priced under the shared lock on the rules.
    assert store.rule_locks == [Lock.SHARE]

    # Redelivered (alone, in a batch, twice in one batch): nothing changes.
    replay = earning.record(parsed(*batch, batch[1]))
    assert replay.confirmed == 0
    assert replay.replayed == 4
    assert len(store.confirmations()) == 3
    assert len(store.events) == 3


def test_an_event_id_taken_by_another_event_is_refused_not_dropped_as_a_repeat(
    earning: EarningService, store: Store, players: list[str]
) -> None:
    stay = message(players[0], "HOTEL_STAY", nights=2)
    assert earning.record(parsed(stay)).confirmed == 1
    # The same event again, its time filled in anew and another correlation id: a repeat.
    again = {**stay, "occurredAt": "2026-06-01T11:00:00Z", "correlationId": "req-2"}
    assert earning.record(parsed(again)).replayed == 1
    # The same eventId on other content (more nights, another partner's or player's, a
    # different reference): refused with its reason, the first event untouched.
    others = [
        {**stay, "nights": 30},
        {**stay, "partnerId": "dining"},
        {**stay, "user_id": players[1]},
        {**stay, "reference": "T-999"},
    ]
    for other in others:
        result = earning.record(parsed(other))
        assert [(r.event_id, r.reason) for r in result.refused] == [
            (stay["eventId"], "event_id_conflict")
        ], other
        assert result.replayed == 0
    assert len(store.confirmations()) == 1
    assert store.events[stay["eventId"]].points == 20


def test_the_confirmation_id_follows_from_the_source_event(
    earning: EarningService, store: Store, players: list[str]
) -> None:
    batch = [message(players[0]), message(players[0])]
    earning.record(parsed(*batch))
    ids = [c.event_id for c in store.confirmations()]
    assert len(set(ids)) == 2
    again = Store(players=store.players)
    EarningService(lambda: FakeUnitOfWork(again), FixedClock(NOW), FakePointsCache()).record(
        parsed(*batch)
    )
    assert [c.event_id for c in again.confirmations()] == ids


def test_events_of_players_not_registered_yet_are_parked_and_the_rest_recorded(
    earning: EarningService, store: Store, players: list[str], clock: FixedClock
) -> None:
    newcomer = str(uuid.uuid4())
    early = message(newcomer)
    good = message(players[0])
    result = earning.record(parsed(early, good))
    assert (result.refused, result.parked, result.confirmed) == ([], 1, 1)
    assert list(store.events) == [good["eventId"]]
    assert list(store.parked) == [early["eventId"]]
    assert store.parked[early["eventId"]].payload == early
    assert store.parked[early["eventId"]].parked_at == NOW
    # Delivered again while it waits: a repeat, parked once with its first time.
    clock.advance(minutes=5)
    again = earning.record(parsed(early))
    assert (again.parked, again.replayed) == (0, 1)
    assert store.parked[early["eventId"]].parked_at == NOW


def test_the_event_id_of_a_parked_event_is_taken_as_well(
    earning: EarningService,
    ingestion: PartnerEventIngestion,
    store: Store,
    players: list[str],
) -> None:
    newcomer = str(uuid.uuid4())
    early = message(newcomer, "DINING")
    assert earning.record(parsed(early)).parked == 1
    # Another check under the same eventId while the first waits for the registration.
    other = {**early, "checkAmount": "480.20"}
    result = earning.record(parsed(other))
    assert [(r.event_id, r.reason) for r in result.refused] == [
        (early["eventId"], "event_id_conflict")
    ]
    assert result.parked == 0
    assert store.parked[early["eventId"]].payload == early
    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit([{**other, "partnerId": "casino"}], CASINO)
    assert list(refused.value.details["events"]) == ["0"]


def dead_letters_counted() -> float:
    labels = {
        "group": "rewards-reward-events",
        "topic": "reward-events",
        "outcome": "dead_lettered",
    }
    return REGISTRY.get_sample_value("kafka_events_consumed_total", labels) or 0.0


def parked_events(
    store: Store, clock: FixedClock, batch_size: int = 100, **options: Any
) -> ParkedEventsService:
    return ParkedEventsService(
        lambda: FakeUnitOfWork(store),
        clock,
        wait=timedelta(minutes=15),
        group_id="rewards-reward-events",
        batch_size=batch_size,
        **options,
    )


def test_parked_events_are_published_again_as_received_once_their_player_registers(
    earning: EarningService, store: Store, clock: FixedClock
) -> None:
    newcomer, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    stay = message(newcomer, "HOTEL_STAY", nights=2, amount="300.00")
    undo = reversal_of(stay)
    other = message(stranger)
    earning.record(parsed(stay, other))
    earning.record(parsed(undo))
    sweeper = parked_events(store, clock)

    nothing = sweeper.sweep()
    assert (nothing.released, nothing.expired, nothing.waiting) == (0, [], 3)
    assert store.messages == []

    store.players[newcomer] = Player(newcomer, NOW)
    swept = sweeper.sweep()
    assert (swept.released, swept.expired, swept.waiting) == (2, [], 1)
    assert [(m.topic, m.key, m.message) for m in store.messages] == [
        ("reward-events", newcomer, stay),
        ("reward-events", newcomer, undo),
    ]
    assert store.messages[0].headers == {
        "eventType": "HOTEL_STAY",
        "X-Correlation-ID": stay["correlationId"],
    }
    assert list(store.parked) == [other["eventId"]]
    # Consumed again, they are recorded like any other event.
    result = earning.record(parsed(stay, undo))
    assert (result.parked, result.confirmed) == (0, 2)


def test_a_reversal_whose_original_never_comes_is_dead_lettered_after_a_week(
    earning: EarningService, store: Store, clock: FixedClock, players: list[str]
) -> None:
    typo = reversal_of(message(players[0]))  # its original was never sent
    earning.record(parsed(typo))
    assert store.events[typo["eventId"]].status is AwardStatus.PENDING
    sweeper = parked_events(store, clock, reversal_wait=timedelta(days=7))
    clock.advance(days=7)
    assert sweeper.sweep().reversals_expired == []  # not before the week is over
    clock.advance(seconds=1)
    swept = sweeper.sweep()
    assert [r.event_id for r in swept.reversals_expired] == [typo["eventId"]]
    assert store.events[typo["eventId"]].status is AwardStatus.REJECTED
    [dead] = store.messages
    assert (dead.topic, dead.key, dead.message) == ("reward-events.dlq", players[0], typo)
    assert dead.headers["dlq-reason"] == "original_not_found"
    assert sweeper.sweep().reversals_expired == []  # once


def test_parked_events_whose_player_never_registers_are_dead_lettered_after_the_wait(
    earning: EarningService, store: Store, clock: FixedClock
) -> None:
    stranger = message(str(uuid.uuid4()))
    earning.record(parsed(stranger))
    sweeper = parked_events(store, clock)

    clock.advance(minutes=15)
    assert sweeper.sweep().expired == []  # not before the wait is over

    clock.advance(seconds=1)
    counted = dead_letters_counted()
    swept = sweeper.sweep()
    assert [p.event_id for p in swept.expired] == [stranger["eventId"]]
    assert swept.waiting == 0
    assert dead_letters_counted() == counted  # the service writes; its worker counts

    [dead] = store.messages
    assert (dead.topic, dead.key, dead.message) == (
        "reward-events.dlq",
        stranger["user_id"],
        stranger,
    )
    assert dead.headers["dlq-reason"] == "unknown_player"
    assert dead.headers["dlq-original-topic"] == "reward-events"
    assert dead.headers["dlq-consumer-group"] == "rewards-reward-events"
    assert "waited 900 s" in dead.headers["dlq-error"]
    assert "dlq-original-offset" not in dead.headers
    assert store.parked == {}

    # The worker's sweep counts them with the consumer's own dead letters.
    earning.record(parsed(message(str(uuid.uuid4()))))
    clock.advance(minutes=16)
    ParkedEventsSweep(sweeper)()
    assert dead_letters_counted() == counted + 1


@pytest.fixture
def service_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Logging set up as the worker's: records carry their event dicts."""
    level = logging.getLogger().level
    configure_logging("rewards", level="WARNING")
    yield caplog
    logging.getLogger().setLevel(level)


def test_a_parked_event_dead_lettered_is_logged_with_its_correlation_id(
    earning: EarningService,
    store: Store,
    clock: FixedClock,
    service_logs: pytest.LogCaptureFixture,
) -> None:
    stranger = message(str(uuid.uuid4()), correlationId="partner-req-42")
    earning.record(parsed(stranger))
    clock.advance(minutes=16)
    ParkedEventsSweep(parked_events(store, clock))()
    [line] = [
        r.msg
        for r in service_logs.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "parked_event_dead_lettered"
    ]
    assert line["event_id"] == stranger["eventId"]
    assert line["correlation_id"] == "partner-req-42"


def test_a_sweep_takes_at_most_its_batch(
    earning: EarningService, store: Store, clock: FixedClock
) -> None:
    newcomer = str(uuid.uuid4())
    earning.record(parsed(*(message(newcomer) for _ in range(5))))
    store.players[newcomer] = Player(newcomer, NOW)
    sweeper = parked_events(store, clock, batch_size=2)
    assert [sweeper.sweep().released for _ in range(4)] == [2, 2, 1, 0]
    assert len(store.messages) == 5


def test_reversals_replays_and_reorders_leave_each_event_counted_once(
    earning: EarningService, store: Store, players: list[str]
) -> None:
    original = message(players[0], amountWagered="300.00")
    undo = reversal_of(original)
    again = reversal_of(original)

    assert earning.record(parsed(undo)).pending == 1  # before its original
    assert store.events[undo["eventId"]].status is AwardStatus.PENDING
    assert not store.confirmations()

    result = earning.record(parsed(original, again, undo))  # undo replayed: ignored
    assert result.confirmed == 3
    assert [(c.data["sourceEventId"], c.data["pointsAwarded"]) for c in store.confirmations()] == [
        (original["eventId"], 30),
        (undo["eventId"], -30),
        (again["eventId"], 0),
    ]
    assert store.events[undo["eventId"]].status is AwardStatus.AWARDED
    assert store.events[again["eventId"]].status is AwardStatus.DUPLICATE
    daily = sum(points for points, _events in store.daily.values())
    assert daily == 0


def test_a_reversal_of_another_players_event_is_refused(
    earning: EarningService, store: Store, players: list[str]
) -> None:
    original = message(players[0])
    earning.record(parsed(original))
    foreign = reversal_of(original, user_id=players[1])
    result = earning.record(parsed(foreign))
    assert [r.reason for r in result.refused] == ["reversal_mismatch"]
    assert foreign["eventId"] not in store.events


def test_a_waiting_reversal_that_turns_out_foreign_is_dead_lettered_when_its_original_comes(
    earning: EarningService, store: Store, players: list[str]
) -> None:
    original = message(players[0])
    foreign = reversal_of(original, user_id=players[1], correlationId="corr-foreign")
    assert earning.record(parsed(foreign)).pending == 1  # read before its original
    assert not store.messages
    earning.record(parsed(original))
    assert store.events[foreign["eventId"]].status is AwardStatus.REJECTED
    [dead] = store.messages
    assert (dead.topic, dead.key, dead.message) == ("reward-events.dlq", players[1], foreign)
    assert dead.headers["dlq-reason"] == "reversal_mismatch"
    assert "another player" in dead.headers["dlq-error"]
    assert dead.headers["dlq-consumer-group"] == "rewards-reward-events"
    assert dead.headers["eventType"] == "CASINO_SPEND_REVERSED"
    assert dead.headers["X-Correlation-ID"] == "corr-foreign"
    assert "dlq-original-offset" not in dead.headers
    # A redelivery of the original changes nothing, so nothing is dead-lettered twice.
    earning.record(parsed(original))
    assert len(store.messages) == 1


def test_a_new_rule_version_is_picked_up_for_events_after_its_start(
    store: Store, clock: FixedClock, earning: EarningService, players: list[str]
) -> None:
    rules = EarningRuleService(lambda: FakeUnitOfWork(store), clock, lead=AHEAD)
    start = NOW + timedelta(hours=1)
    rules.schedule(
        ScheduleEarningRule(
            EarningType.CASINO_SPEND,
            start,
            EarningParameters(points_per_unit=3, unit_amount=Decimal("10.00")),
        ),
        STAFF,
    )
    clock.advance(hours=2)
    before = message(players[0], occurredAt="2026-06-01T12:59:59Z")
    after = message(players[0], occurredAt="2026-06-01T13:00:00Z")
    events = [parse_partner_event(m, clock.now(), AHEAD) for m in (before, after)]
    earning.record(events)
    assert [(c.data["pointsAwarded"], c.data["ruleVersion"]) for c in store.confirmations()] == [
        (12, 1),
        (36, 2),
    ]


def test_a_withdrawn_version_is_dropped_by_the_next_batch(
    store: Store, clock: FixedClock, earning: EarningService, players: list[str]
) -> None:
    rules = EarningRuleService(lambda: FakeUnitOfWork(store), clock, lead=AHEAD)
    start = NOW + timedelta(hours=1)
    parameters = EarningParameters(points_per_unit=3, unit_amount=Decimal("10.00"))
    v2 = rules.schedule(ScheduleEarningRule(EarningType.CASINO_SPEND, start, parameters), STAFF)
    earning.record(parsed(message(players[0])))  # the consumer has read the book with v2
    withdrawn = rules.withdraw(EarningType.CASINO_SPEND, v2.version, STAFF)
    assert withdrawn.withdrawn_at == NOW
    assert rules.withdraw(EarningType.CASINO_SPEND, v2.version, STAFF) == withdrawn
    assert store.rule_withdrawals == 1
    statuses = {(v.rule.earning_type, v.rule.version): v.status for v in rules.list()}
    assert statuses[(EarningType.CASINO_SPEND, 2)] is RuleStatus.WITHDRAWN
    clock.advance(hours=2)
    after = message(players[0], occurredAt="2026-06-01T13:00:00Z")
    earning.record([parse_partner_event(after, clock.now(), AHEAD)])
    assert [c.data["ruleVersion"] for c in store.confirmations()] == [1, 1]


def test_a_concurrent_recording_of_the_same_events_rolls_the_batch_back(
    store: Store, clock: FixedClock, cache: FakePointsCache, players: list[str]
) -> None:
    class RacingUnitOfWork(FakeUnitOfWork):
        def __enter__(self) -> RacingUnitOfWork:
            super().__enter__()
            add_all = self.reward_events.add_all

            def racing(records: Any, now: datetime) -> set[str]:
                inserted = add_all(records, now)
                return inserted - {records[0].event_id}  # another consumer was first

            self.reward_events.add_all = racing  # type: ignore[method-assign]
            return self

    service = EarningService(lambda: RacingUnitOfWork(store), clock, cache)
    with pytest.raises(EventsRecordedConcurrently):
        service.record(parsed(message(players[0]), message(players[1])))
    assert not store.events
    assert not store.outbox
    assert not cache.generations


# -- rules --------------------------------------------------------------------------------------


def test_staff_see_every_version_with_its_status(store: Store, clock: FixedClock) -> None:
    rules = EarningRuleService(lambda: FakeUnitOfWork(store), clock, lead=AHEAD)
    scheduled = rules.schedule(
        ScheduleEarningRule(
            EarningType.DINING, NOW + timedelta(days=1), EarningParameters(points_per_event=8)
        ),
        STAFF,
    )
    assert scheduled.version == 2
    assert scheduled.created_by == STAFF.subject
    assert store.rule_locks == [Lock.UPDATE]
    listed = [(v.rule.earning_type, v.rule.version, v.status) for v in rules.list()]
    assert listed == [
        (EarningType.HOTEL_STAY, 1, RuleStatus.CURRENT),
        (EarningType.CASINO_SPEND, 1, RuleStatus.CURRENT),
        (EarningType.DINING, 2, RuleStatus.SCHEDULED),
        (EarningType.DINING, 1, RuleStatus.CURRENT),
    ]
    clock.advance(days=2)
    dining = [(v.rule.version, v.status) for v in rules.list(EarningType.DINING)]
    assert dining == [(2, RuleStatus.CURRENT), (1, RuleStatus.SUPERSEDED)]


def test_a_version_in_the_past_is_refused(store: Store, clock: FixedClock) -> None:
    rules = EarningRuleService(lambda: FakeUnitOfWork(store), clock, lead=AHEAD)
    with pytest.raises(InvalidEarningRule):
        rules.schedule(
            ScheduleEarningRule(EarningType.DINING, NOW, EarningParameters(points_per_event=1)),
            STAFF,
        )
    assert len(store.rules) == 3


# -- points -----------------------------------------------------------------------------------


@pytest.fixture
def points(store: Store, clock: FixedClock, cache: FakePointsCache) -> PointsService:
    return PointsService(lambda: FakeUnitOfWork(store), clock, cache)


def test_points_are_summed_by_source_and_cached_until_new_events(
    points: PointsService,
    earning: EarningService,
    players: list[str],
    clock: FixedClock,
    cache: FakePointsCache,
) -> None:
    player = players[0]
    viewer = Principal(subject=player, role=Role.PLAYER)
    earning.record(parsed(message(player), message(player, "DINING")))
    first = points.summary(player, None, None, viewer)
    assert first.total_points == 21
    assert first.breakdown[EarningSource.CASINO].points == 12
    assert first.breakdown[EarningSource.DINING].events == 1
    assert first.breakdown[EarningSource.HOTEL].points == 0
    assert first.calculated_at == NOW

    clock.advance(seconds=5)
    assert points.summary(player, None, None, viewer) == first  # from the cache

    earning.record(parsed(message(player, "HOTEL_STAY")))
    fresh = points.summary(player, None, None, viewer)
    assert fresh.total_points == 41
    assert fresh.calculated_at == NOW + timedelta(seconds=5)
    assert len(cache.entries) == 2


def test_periods_a_microsecond_apart_are_cached_apart(
    points: PointsService, earning: EarningService, players: list[str]
) -> None:
    player = players[0]
    earning.record(parsed(message(player, occurredAt="2026-05-01T10:00:00.000300Z")))
    moment = datetime(2026, 5, 1, 10, tzinfo=UTC)
    after = points.summary(player, moment + timedelta(microseconds=500), None, STAFF)
    before = points.summary(player, moment + timedelta(microseconds=100), None, STAFF)
    assert (after.total_points, before.total_points) == (0, 12)
    assert before.start == moment + timedelta(microseconds=100)


def test_points_of_a_period(
    points: PointsService, earning: EarningService, players: list[str]
) -> None:
    player = players[0]
    earning.record(
        parsed(
            message(player, occurredAt="2026-05-01T10:00:00Z"),
            message(player, occurredAt="2026-05-20T10:00:00Z"),
        )
    )
    may_first = datetime(2026, 5, 1, 9, tzinfo=UTC)
    summary = points.summary(player, may_first, may_first + timedelta(days=2), STAFF)
    assert summary.total_points == 12
    assert summary.start == may_first


def test_who_may_read_a_players_points(
    points: PointsService, earning: EarningService, players: list[str]
) -> None:
    player = players[0]
    earning.record(parsed(message(player)))
    assert points.summary(player, None, None, STAFF).total_points == 12
    assert points.summary(player, None, None, CASINO).total_points == 12
    with pytest.raises(PermissionDenied):
        points.summary(player, None, None, Principal(subject=players[1], role=Role.PLAYER))
    with pytest.raises(PermissionDenied):
        points.summary(player, None, None, Principal("dining", scopes=frozenset({"x.y"})))


def test_an_unknown_player_is_not_found_and_a_new_one_has_zero(
    points: PointsService, players: list[str]
) -> None:
    with pytest.raises(PlayerNotFound):
        points.summary(str(uuid.uuid4()), None, None, STAFF)
    assert points.summary(players[2], None, None, STAFF).total_points == 0


def test_a_player_asking_before_their_registration_arrived_has_zero_not_a_404(
    points: PointsService,
) -> None:
    """Their token proves they exist; ``players`` may lag behind the sign-up by milliseconds."""
    newcomer = str(uuid.uuid4())
    summary = points.summary(newcomer, None, None, Principal(subject=newcomer, role=Role.PLAYER))
    assert summary.total_points == 0
    stranger = str(uuid.uuid4())
    with pytest.raises(PlayerNotFound):  # an id nobody vouched for is still unknown
        points.summary(stranger, None, None, STAFF)


# -- REST ingestion -------------------------------------------------------------------------------


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def ingestion(clock: FixedClock, publisher: FakePublisher, store: Store) -> PartnerEventIngestion:
    return PartnerEventIngestion(
        clock, SchemaContracts(), publisher, max_ahead=AHEAD, uow=lambda: FakeUnitOfWork(store)
    )


def test_submitted_events_are_completed_checked_and_published(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    player = str(uuid.uuid4())
    own_id = str(uuid.uuid4())
    accepted = ingestion.submit(
        [
            {
                "eventType": "DINING",
                "user_id": player.upper(),
                "reference": "C-1",
                "checkAmount": "5",
            },
            {
                "eventId": own_id,
                "eventType": "HOTEL_STAY",
                "user_id": player,
                "reference": "F",
                "nights": 1,
            },
        ],
        CASINO,
        correlation_id="req-9",
    )
    assert accepted.event_ids[1] == own_id
    first, second = publisher.published
    assert first["eventId"] == accepted.event_ids[0]
    assert first["partnerId"] == "casino"
    assert first["version"] == 1
    assert first["occurredAt"] == "2026-06-01T12:00:00.000Z"
    assert first["correlationId"] == "req-9"
    assert first["user_id"] == player  # one spelling for the key and the body
    assert second["partnerId"] == "casino"
    # Accepted, and the partner is told rewards does not know this player (yet).
    assert accepted.unregistered_players == [player]


def test_a_reversal_resent_without_a_reference_keeps_its_event_id(
    ingestion: PartnerEventIngestion, players: list[str]
) -> None:
    original = str(uuid.uuid4())
    reversal = {
        "eventType": "CASINO_SPEND_REVERSED",
        "user_id": players[0],
        "originalEventId": original,
    }
    first = ingestion.submit([reversal], CASINO).event_ids
    again = ingestion.submit([{**reversal, "originalEventId": original.upper()}], CASINO)
    assert again.event_ids == first
    other = ingestion.submit([{**reversal, "originalEventId": str(uuid.uuid4())}], CASINO)
    assert other.event_ids != first


def test_a_resubmission_spelling_the_player_id_otherwise_keeps_its_event_id(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    player = str(uuid.uuid4())
    stay = {"eventType": "HOTEL_STAY", "reference": "folio-1", "nights": 2}
    ids = {
        ingestion.submit([{**stay, "user_id": spelling}], CASINO).event_ids[0]
        for spelling in (player, player.upper(), "{" + player + "}")
    }
    assert len(ids) == 1  # so the consumer records the stay once


def test_an_event_id_taken_by_another_event_is_refused_at_submission(
    ingestion: PartnerEventIngestion,
    earning: EarningService,
    publisher: FakePublisher,
    players: list[str],
) -> None:
    recorded = message(players[0], "DINING")
    earning.record(parsed(recorded))
    dinner = {
        "eventType": "DINING",
        "user_id": players[0],
        "reference": "T-100",
        "checkAmount": "48.20",
    }
    own_id = str(uuid.uuid4())
    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit(
            [
                {**dinner, "eventId": recorded["eventId"], "checkAmount": "480.20"},
                {**dinner, "eventId": own_id},
                {**dinner, "eventId": own_id, "reference": "T-101"},
            ],
            CASINO,
        )
    problems = refused.value.details["events"]
    assert set(problems) == {"0", "2"}
    assert all(p.startswith("event_id_conflict") for p in problems.values())
    assert not publisher.published
    # A repeat of what was recorded is no conflict: accepted (the consumer drops it).
    accepted = ingestion.submit([{**dinner, "eventId": recorded["eventId"]}], CASINO)
    assert accepted.event_ids == [recorded["eventId"]]


def test_a_resent_rejected_reversal_is_refused_not_dropped_unseen(
    ingestion: PartnerEventIngestion,
    earning: EarningService,
    publisher: FakePublisher,
    store: Store,
    clock: FixedClock,
    players: list[str],
) -> None:
    # A reversal sent before its original waits a week, then is rejected; the original then
    # arrives (a replayed dead letter) and is awarded. The partner resends the reversal, which
    # without a reference keeps its eventId: it must hear that a new event is needed, not a
    # 202 for a repeat that takes nothing back.
    original = message(players[0], "DINING", checkAmount="200.00")
    undo = {
        "eventType": "DINING_REVERSED",
        "user_id": players[0],
        "originalEventId": original["eventId"],
    }
    ingestion.submit([undo], CASINO)
    [sent] = publisher.published
    earning.record(parsed(dict(sent)))
    sweeper = parked_events(store, clock, reversal_wait=timedelta(days=7, seconds=1))
    clock.advance(days=7, seconds=2)
    sweeper.sweep()
    assert store.events[sent["eventId"]].status is AwardStatus.REJECTED
    assert earning.record(parsed(original)).confirmed == 1

    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit([undo], CASINO)
    assert refused.value.details["events"]["0"].startswith("event_rejected")
    assert len(publisher.published) == 1
    # Consumed again (a replay after an offset reset), the record is a repeat: nothing changes.
    result = earning.record(parsed(dict(sent)))
    assert (result.refused, result.replayed) == ([], 1)
    # With a reference of its own it is a new event, and takes the points back.
    accepted = ingestion.submit([{**undo, "reference": "refund-1"}], CASINO)
    assert accepted.event_ids != [sent["eventId"]]
    resent = parse_partner_event(publisher.published[-1], clock.now(), AHEAD)
    assert earning.record([resent]).confirmed == 1


def test_a_reversal_that_cannot_match_its_original_is_refused_at_submission(
    ingestion: PartnerEventIngestion,
    earning: EarningService,
    publisher: FakePublisher,
    players: list[str],
) -> None:
    wager = message(players[0])
    earning.record(parsed(wager))
    back = {"eventType": "CASINO_SPEND_REVERSED", "originalEventId": wager["eventId"]}
    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit(
            [
                {**back, "user_id": players[1]},
                {**back, "user_id": players[0], "eventType": "DINING_REVERSED"},
            ],
            CASINO,
        )
    problems = refused.value.details["events"]
    assert problems["0"] == (
        f"reversal_mismatch: originalEventId {wager['eventId']} belongs to another player"
    )
    assert problems["1"].startswith("reversal_mismatch")
    assert not publisher.published
    # The right player, and one whose original is not known yet (it waits): both accepted.
    unknown = {**back, "originalEventId": str(uuid.uuid4()), "user_id": players[0]}
    accepted = ingestion.submit([{**back, "user_id": players[0]}, unknown], CASINO)
    assert len(accepted.event_ids) == 2


def test_a_submission_names_the_players_rewards_does_not_know_yet(
    ingestion: PartnerEventIngestion, players: list[str]
) -> None:
    stranger = str(uuid.uuid4())
    dinner = {"eventType": "DINING", "reference": "C", "checkAmount": "5"}
    accepted = ingestion.submit(
        [{**dinner, "user_id": players[0]}, {**dinner, "user_id": stranger, "reference": "D"}],
        CASINO,
    )
    assert len(accepted.event_ids) == 2
    assert accepted.unregistered_players == [stranger]


def test_one_invalid_event_refuses_the_whole_submission(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    player = str(uuid.uuid4())
    good = {"eventType": "DINING", "user_id": player, "reference": "C-1", "checkAmount": "5.00"}
    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit(
            [
                good,
                {**good, "checkAmount": 5},
                {**good, "user_id": "not-a-uuid"},
                {**good, "occurredAt": "2026-06-01T13:00:00Z"},
                {**good, "eventType": "PLAYER_REGISTERED"},
            ],
            CASINO,
        )
    problems = refused.value.details["events"]
    assert set(problems) == {"1", "2", "3", "4"}
    assert "checkAmount" in problems["1"]
    assert problems["2"].startswith("invalid_player_id")
    assert problems["3"].startswith("occurred_in_future")
    assert not publisher.published


def test_an_event_the_consumer_would_not_price_is_refused_at_submission(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    player = str(uuid.uuid4())
    wager = {"eventType": "CASINO_SPEND", "user_id": player, "reference": "S-1"}
    with pytest.raises(InvalidPartnerEvents) as refused:
        ingestion.submit(
            [
                {**wager, "amountWagered": "1000000000.00"},  # 100,000,000 points: the cap
                {**wager, "reference": "S-2", "amountWagered": "1000000010.00"},
            ],
            CASINO,
        )
    problems = refused.value.details["events"]
    assert set(problems) == {"1"}
    assert problems["1"].startswith("points_out_of_range")
    assert not publisher.published


def test_a_partner_submits_only_in_its_own_name(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    body = {"eventType": "DINING", "user_id": str(uuid.uuid4()), "partnerId": "hotel"}
    with pytest.raises(PartnerMismatch):
        ingestion.submit([{**body, "reference": "C", "checkAmount": "1"}], CASINO)
    assert not publisher.published


def test_a_partner_submits_only_the_kinds_of_events_it_is_registered_for(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    hotel = Principal(
        subject="hotel",
        client_id="hotel",
        scopes=frozenset({"rewards.write"}),
        event_sources=frozenset({"HOTEL"}),
    )
    player = str(uuid.uuid4())
    stay = {"eventType": "HOTEL_STAY", "user_id": player, "reference": "F", "nights": 1}
    dinner = {"eventType": "DINING", "user_id": player, "reference": "C", "checkAmount": "9"}
    with pytest.raises(EventSourceNotAllowed) as refused:
        ingestion.submit([stay, dinner, {**dinner, "reference": "D"}], hotel)
    assert refused.value.details == {
        "events": {"1": "DINING", "2": "DINING"},
        "allowedSources": ["HOTEL"],
    }
    assert not publisher.published
    assert len(ingestion.submit([stay], hotel).event_ids) == 1


def test_submissions_are_bounded_and_a_broker_failure_is_reported(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    body = {"eventType": "DINING", "user_id": str(uuid.uuid4()), "reference": "C"}
    with pytest.raises(TooManyPartnerEvents):
        ingestion.submit([{**body, "checkAmount": "1"}] * 501, CASINO)
    publisher.down = True
    with pytest.raises(EventBrokerUnavailable):
        ingestion.submit([{**body, "checkAmount": "1"}], CASINO)


# -- reading a message ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"user_id": "player-7"}, "invalid_player_id"),
        # Arabic-Indic digits: Python's UUID parser would take them as 0-9.
        ({"user_id": "\u0661" * 8 + "-1111-1111-1111-111111111111"}, "invalid_player_id"),
        ({"eventId": "nope"}, "invalid_event_id"),
        ({"occurredAt": "2026-06-01T12:05:01Z"}, "occurred_in_future"),
        ({"occurredAt": "1999-12-31T23:59:59Z"}, "invalid_occurred_at"),
        ({"occurredAt": "tomorrow"}, "invalid_occurred_at"),
        ({"eventType": "PLAYER_REGISTERED"}, "unsupported_event_type"),
        ({"amountWagered": "-1"}, "invalid_amount"),
        ({"amountWagered": "NaN"}, "invalid_amount"),
    ],
)
def test_a_message_is_refused_for_a_stable_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidPartnerEvent) as refused:
        parse_partner_event({**message(str(uuid.uuid4())), **change}, NOW, AHEAD)
    assert refused.value.reason == reason


def test_a_reversal_cannot_reverse_itself() -> None:
    body = reversal_of(message(str(uuid.uuid4())))
    body["originalEventId"] = body["eventId"]
    with pytest.raises(InvalidPartnerEvent) as refused:
        parse_partner_event(body, NOW, AHEAD)
    assert refused.value.reason == "invalid_reversal"


def test_a_message_reads_into_the_domain() -> None:
    player = str(uuid.uuid4())
    event = parse_partner_event(
        message(player.upper(), "HOTEL_STAY", amount="450.10", occurredAt="2026-06-01T12:04:59Z"),
        NOW,
        AHEAD,
    )
    assert event.player_id == player
    assert event.nights == 2
    assert event.amount == Decimal("450.10")
    assert event.payload["reference"] == "T-100"
    assert event.correlation_id == "req-1"


def test_a_pending_reversal_settled_elsewhere_meanwhile_rolls_the_batch_back(
    store: Store, clock: FixedClock, cache: FakePointsCache, players: list[str]
) -> None:
    original = message(players[0])
    undo = reversal_of(original)
    EarningService(lambda: FakeUnitOfWork(store), clock, cache).record(parsed(undo))

    class RacingUnitOfWork(FakeUnitOfWork):
        def __enter__(self) -> RacingUnitOfWork:
            super().__enter__()
            self.reward_events.settle = lambda records, now: 0  # type: ignore[method-assign]
            return self

    with pytest.raises(EventsRecordedConcurrently):
        EarningService(lambda: RacingUnitOfWork(store), clock, cache).record(parsed(original))
    assert original["eventId"] not in store.events
    assert store.events[undo["eventId"]].status is AwardStatus.PENDING
    assert not store.confirmations()


def test_a_resent_event_without_an_event_id_gets_the_same_one(
    ingestion: PartnerEventIngestion, publisher: FakePublisher
) -> None:
    body = {"eventType": "DINING", "user_id": str(uuid.uuid4()), "checkAmount": "10.00"}
    first = ingestion.submit([{**body, "reference": "C-7"}], CASINO).event_ids
    resent = ingestion.submit([{**body, "reference": "C-7"}], CASINO).event_ids
    another = ingestion.submit([{**body, "reference": "C-8"}], CASINO).event_ids
    assert first == resent  # the consumer stores it once: not credited twice
    assert another != first
    named = ingestion.submit(
        [{**body, "reference": "C-7", "eventId": str(uuid.uuid4())}], CASINO
    ).event_ids
    assert named != first  # a partner's own eventId is kept
