"""The reward-events consumer against PostgreSQL, Redis and the broker: each event earns its
rule's points once, replays change nothing, reversals and reorders settle, bad events go to the
dead-letter topic with their reason, and the rule effective at the event's time applies."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from rewards_service.adapters.persistence.unit_of_work import SqlAlchemyRewardsUnitOfWork
from rewards_service.application.earning import (
    ConfirmationReplay,
    EarningService,
    ParkedEventsService,
)
from rewards_service.container import Container
from rewards_service.controllers.consumers import PartnerEvents
from rewards_service.domain.model import Player
from shared.domain.clock import FixedClock
from shared.messaging.kafka import ensure_topics
from tests.integration.rewards.conftest import ApiClient, add_players
from tests.integration.rewards.support import (
    confirmations,
    daily_totals,
    handle,
    handler,
    inbound,
    recorded,
)
from tests.support.infra import Infra
from tests.support.kafka import RunningConsumer, TopicProbe, produce
from tests.support.partner_events import partner_message, reversal_message


@pytest.fixture
def players(rewards_container: Container) -> list[str]:
    return add_players(rewards_container, 3)


def test_each_event_earns_its_rule_points_once_with_one_confirmation(
    rewards_container: Container, players: list[str]
) -> None:
    alice, bob, _ = players
    batch = [
        partner_message(alice, "CASINO_SPEND", amountWagered="129.99"),
        partner_message(bob, "DINING", checkAmount="48.20"),
        partner_message(alice, "HOTEL_STAY", nights=3),
        partner_message(bob, "CASINO_SPEND", amountWagered="9.99"),
    ]
    assert handle(rewards_container, *batch) == []

    stored = recorded(rewards_container)
    assert {
        e: (r["status"], r["points_awarded"], r["rule_version"]) for e, r in stored.items()
    } == {
        batch[0]["eventId"]: ("AWARDED", 12, 1),
        batch[1]["eventId"]: ("AWARDED", 9, 1),
        batch[2]["eventId"]: ("AWARDED", 30, 1),
        batch[3]["eventId"]: ("AWARDED", 0, 1),
    }
    assert stored[batch[0]["eventId"]]["payload"]["reference"] == batch[0]["reference"]
    sent = confirmations(rewards_container)
    assert [(c["sourceEventId"], c["pointsAwarded"]) for c in sent] == [
        (m["eventId"], points) for m, points in zip(batch, [12, 9, 30, 0], strict=True)
    ]
    first = sent[0]
    assert first["key"] == alice
    assert first["user_id"] == alice
    assert first["eventType"] == "REWARD_CONFIRMED"
    assert first["sourceEventType"] == "CASINO_SPEND"
    assert first["partnerId"] == "casino"
    assert first["reference"] == batch[0]["reference"]
    assert first["correlationId"] == batch[0]["correlationId"]
    day = batch[0]["occurredAt"][:10]
    assert daily_totals(rewards_container, alice) == {
        (day, "CASINO"): (12, 1),
        (day, "HOTEL"): (30, 1),
    }

    # Replayed: the whole batch, part of it, one event twice in a batch: nothing changes.
    assert handle(rewards_container, *batch) == []
    assert handle(rewards_container, batch[2], batch[2], batch[0]) == []
    assert len(confirmations(rewards_container)) == 4
    assert len(recorded(rewards_container)) == 4
    assert daily_totals(rewards_container, alice)[(day, "CASINO")] == (12, 1)


def test_an_original_and_its_reversal_priced_at_once_by_two_consumers_settle(
    rewards_container: Container, players: list[str]
) -> None:
    # Producers hashing the player's key differently (librdkafka's default partitioner, a Java
    # partner's murmur2) put one player's events on two partitions, so two consumers may price
    # an original and its reversal at the same moment. Each used to see nothing of the other:
    # the original awarded, the reversal pending for ever, the points never taken back.
    player = players[0]
    original = partner_message(player, "HOTEL_STAY", nights=3)
    undo = reversal_message(original)
    committing, release = threading.Event(), threading.Event()
    core = rewards_container.core

    class CommitsWhenReleased(SqlAlchemyRewardsUnitOfWork):
        def commit(self) -> None:
            committing.set()
            release.wait(30)
            super().commit()

    first = EarningService(
        lambda: CommitsWhenReleased(core.database(), core.schemas()),
        core.clock(),
        rewards_container.points_cache(),
    )
    first_consumer = PartnerEvents(first, core.clock(), rewards_container.max_ahead())
    results: dict[str, Any] = {}
    pricing_original = threading.Thread(
        target=lambda: results.update(original=first_consumer.handle([inbound(original)]))
    )
    pricing_reversal = threading.Thread(
        target=lambda: results.update(reversal=handler(rewards_container).handle([inbound(undo)]))
    )
    pricing_original.start()
    try:
        assert committing.wait(30)
        pricing_reversal.start()
        pricing_reversal.join(1.0)
        assert pricing_reversal.is_alive()  # waits for the original's transaction to end
    finally:
        release.set()
        pricing_original.join(30)
        if pricing_reversal.ident is not None:
            pricing_reversal.join(30)
    assert results == {"original": [], "reversal": []}

    stored = {e: (r["status"], r["points_awarded"]) for e, r in recorded(rewards_container).items()}
    assert stored == {original["eventId"]: ("AWARDED", 30), undo["eventId"]: ("AWARDED", -30)}
    assert sum(points for points, _ in daily_totals(rewards_container, player).values()) == 0


def test_reversals_and_reorders_are_settled_each_exactly_once(
    rewards_container: Container, players: list[str]
) -> None:
    player = players[0]
    original = partner_message(player, "DINING", checkAmount="100.00")
    undo = reversal_message(original)
    again = reversal_message(original)

    # The reversal arrives first: it waits, nothing is confirmed or counted.
    assert handle(rewards_container, undo) == []
    assert recorded(rewards_container)[undo["eventId"]]["status"] == "PENDING"
    assert confirmations(rewards_container) == []
    assert daily_totals(rewards_container, player) == {}

    # The original, a second reversal and the first one replayed, in one batch.
    assert handle(rewards_container, original, again, undo) == []
    stored = recorded(rewards_container)
    assert (stored[undo["eventId"]]["status"], stored[undo["eventId"]]["points_awarded"]) == (
        "AWARDED",
        -15,
    )
    assert stored[undo["eventId"]]["rule_version"] == 1
    assert (stored[again["eventId"]]["status"], stored[again["eventId"]]["points_awarded"]) == (
        "DUPLICATE",
        0,
    )
    assert [(c["sourceEventId"], c["pointsAwarded"]) for c in confirmations(rewards_container)] == [
        (original["eventId"], 15),
        (undo["eventId"], -15),
        (again["eventId"], 0),
    ]
    totals = daily_totals(rewards_container, player)
    assert sum(points for points, _ in totals.values()) == 0
    assert sum(events for _, events in totals.values()) == 2

    # And once more, everything replayed: still one confirmation each.
    assert handle(rewards_container, undo, original, again) == []
    assert len(confirmations(rewards_container)) == 3


def test_a_reversal_whose_original_never_comes_is_dead_lettered_after_the_wait(
    rewards_container: Container, players: list[str]
) -> None:
    original = partner_message(players[0], "DINING", checkAmount="100.00")
    typo = reversal_message(original)  # the original is never sent
    assert handle(rewards_container, typo) == []
    sweeper = ParkedEventsService(
        rewards_container.uow,
        FixedClock(datetime.now(UTC) + timedelta(days=8)),
        wait=timedelta(minutes=15),
        group_id="rewards-reward-events",
        batch_size=100,
        reversal_wait=timedelta(days=7),
    )
    swept = sweeper.sweep()
    assert [r.event_id for r in swept.reversals_expired] == [typo["eventId"]]
    assert recorded(rewards_container)[typo["eventId"]]["status"] == "REJECTED"
    [dead] = [r for r in outbox_rows(rewards_container) if r["topic"] == "reward-events.dlq"]
    assert dead["headers"]["dlq-reason"] == "original_not_found"
    assert dead["payload"]["eventId"] == typo["eventId"]
    assert sweeper.sweep().reversals_expired == []
    # Should the original come after all, it is awarded; the rejected reversal stays so.
    assert handle(rewards_container, original) == []
    assert [c["sourceEventId"] for c in confirmations(rewards_container)] == [original["eventId"]]
    # Its record consumed again (an offset reset) is a repeat, not a new dead letter.
    assert handle(rewards_container, typo) == []


def test_the_database_keeps_one_awarded_reversal_per_original(
    rewards_container: Container, players: list[str]
) -> None:
    original = partner_message(players[0], "HOTEL_STAY", nights=1)
    undo = reversal_message(original)
    handle(rewards_container, original, undo)
    engine = rewards_container.core.database()
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO reward_events (event_id, player_id, event_type, source, "
                "occurred_at, partner_id, original_event_id, status, points_awarded, "
                "rule_version, payload, recorded_at, awarded_at) VALUES (:id, :player, "
                "'HOTEL_STAY_REVERSED', 'HOTEL', now(), 'hotel', :original, 'AWARDED', -10, 1, "
                "'{}', now(), now())"
            ),
            {"id": str(uuid.uuid4()), "player": players[0], "original": original["eventId"]},
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("UPDATE reward_events SET points_awarded = 5 WHERE event_id = :id"),
            {"id": undo["eventId"]},
        )


def test_refused_events_are_handed_back_and_the_rest_of_the_batch_is_recorded(
    rewards_container: Container, players: list[str]
) -> None:
    alice, bob, _ = players
    alices = partner_message(alice)
    refused = {
        "reversal_mismatch": reversal_message(alices, user_id=bob),
        "occurred_in_future": partner_message(
            alice, occurred_at=datetime.now(UTC) + timedelta(minutes=30)
        ),
    }
    good = partner_message(bob, "DINING")
    rejected = handle(rewards_container, alices, *refused.values(), good)
    assert {r.inbound.event.event_id: r.reason for r in rejected} == {
        m["eventId"]: reason for reason, m in refused.items()
    }
    assert set(recorded(rewards_container)) == {alices["eventId"], good["eventId"]}


def test_an_event_id_taken_by_another_event_is_refused_in_a_batch_and_after_it(
    rewards_container: Container, players: list[str]
) -> None:
    alice, bob, _ = players
    wager = partner_message(alice, amountWagered="100.00")
    bigger = {**wager, "amountWagered": "100000.00"}
    (rejected,) = handle(rewards_container, wager, bigger)
    assert (rejected.reason, rejected.inbound.raw["amountWagered"]) == (
        "event_id_conflict",
        "100000.00",
    )
    # Later: a repeat (a new correlation id) passes quietly, a squatter's event does not.
    repeat = {**wager, "correlationId": "corr-again"}
    squatter = {**wager, "user_id": bob, "partnerId": "dining"}
    rejected_later = handle(rewards_container, repeat, squatter)
    assert [(r.reason, r.inbound.raw["user_id"]) for r in rejected_later] == [
        ("event_id_conflict", bob)
    ]
    (row,) = recorded(rewards_container).values()
    assert (row["status"], row["points_awarded"], row["payload"]["amountWagered"]) == (
        "AWARDED",
        10,
        "100.00",
    )
    assert len(confirmations(rewards_container)) == 1


def test_a_record_keyed_by_something_else_than_the_player_is_refused(
    rewards_container: Container, players: list[str]
) -> None:
    message = partner_message(players[0])
    (rejected,) = handler(rewards_container).handle([inbound(message, key="casino-floor-1")])
    assert rejected.reason == "key_mismatch"
    # The partition follows the key's bytes: the id in capitals would put the player's events
    # on two partitions, processed out of order and by two consumers at once.
    upper = inbound(partner_message(players[0]), key=players[0].upper())
    assert [r.reason for r in handler(rewards_container).handle([upper])] == ["key_mismatch"]
    body_upper = inbound(partner_message(players[0].upper()), key=players[0])
    assert handler(rewards_container).handle([body_upper]) == []


def test_the_rule_effective_at_the_events_time_prices_it(
    rewards_container: Container, client: ApiClient, staff: dict[str, str], players: list[str]
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    clock = FixedClock(now)
    rewards_container.core.clock.override(providers.Object(clock))
    try:
        start = now + timedelta(minutes=10)
        created = client.post(
            "/api/v1/rewards/rules",
            json={
                "ruleType": "CASINO_SPEND",
                "effectiveFrom": start.isoformat(),
                "parameters": {"pointsPerUnit": 3, "unitAmount": "10.00"},
            },
            headers=staff,
        )
        assert created.status_code == 201, created.json
        assert created.json["version"] == 2
        # An hour later, events from before and after the new version's start arrive.
        clock.advance(hours=1)
        before = partner_message(players[0], occurred_at=start - timedelta(seconds=1))
        after = partner_message(players[0], occurred_at=start)
        late = partner_message(players[0], occurred_at=now - timedelta(days=3))
        assert handle(rewards_container, before, after, late) == []
    finally:
        rewards_container.core.clock.reset_override()
    priced = {
        c["sourceEventId"]: (c["pointsAwarded"], c["ruleVersion"])
        for c in confirmations(rewards_container)
    }
    assert priced == {
        before["eventId"]: (12, 1),
        after["eventId"]: (36, 2),
        late["eventId"]: (12, 1),
    }


class Running(RunningConsumer):
    """The consumer runner with the rewards handler in a thread, as the worker runs it."""

    def __init__(self, infra: Infra, topic: str, container: Container) -> None:
        group = f"rewards-earning-test-{uuid.uuid4().hex[:8]}"
        super().__init__(
            infra.kafka_settings,
            topic,
            handler(container),
            group,
            batch_size=1000,
            poll_timeout=0.1,
        )


@pytest.fixture
def topic(infra: Infra) -> str:
    name = f"reward-events-test-{uuid.uuid4().hex[:8]}"
    ensure_topics(infra.kafka_settings, [name, f"{name}.dlq"])
    return name


def test_bad_events_are_dead_lettered_with_their_reason_and_the_partition_keeps_moving(
    infra: Infra, topic: str, rewards_container: Container, players: list[str]
) -> None:
    player = players[0]
    dlq = TopicProbe(infra.kafka_bootstrap, f"{topic}.dlq")
    first, last = partner_message(player), partner_message(player, "DINING")
    stranger = str(uuid.uuid4())
    no_amount = partner_message(player)
    del no_amount["amountWagered"]
    future = partner_message(player, occurred_at=datetime.now(UTC) + timedelta(hours=1))
    bad: list[tuple[str, bytes | dict[str, Any]]] = [
        (player, first),
        (stranger, partner_message(stranger)),  # waits for a registration, not refused
        (player, b"{not json"),
        (player, no_amount),
        (player, future),
        (player, {**partner_message(player), "occurredAt": "yesterday"}),
        ("not-the-player", partner_message(player)),
        (player, last),
    ]
    for key, record in bad:
        produce(infra.kafka_bootstrap, topic, record, key=key)
    running = Running(infra, topic, rewards_container)
    try:
        dead = dlq.wait_for(lambda r: True, count=5)
        expected = {first["eventId"], last["eventId"]}
        deadline = time.monotonic() + 20
        while set(recorded(rewards_container)) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
        dlq.close()
    assert set(recorded(rewards_container)) == expected
    assert sorted(r["headers"]["dlq-reason"] for r in dead) == [
        "invalid_json",
        "key_mismatch",
        "occurred_in_future",
        "schema_violation",
        "schema_violation",
    ]
    assert [p["player_id"] for p in parked(rewards_container)] == [stranger]
    assert dead[0]["headers"]["dlq-consumer-group"].startswith("rewards-earning-test-")


def parked(container: Container) -> list[dict[str, Any]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text("SELECT event_id, player_id, payload, parked_at FROM parked_reward_events")
        ).mappings()
        return [{k: str(v) if k.endswith("_id") else v for k, v in r.items()} for r in rows]


def outbox_rows(container: Container) -> list[dict[str, Any]]:
    with container.core.database().connect() as connection:
        rows = connection.execute(
            text("SELECT topic, message_key, payload, headers FROM outbox ORDER BY id")
        ).mappings()
        return [dict(r) for r in rows]


def test_an_event_id_held_by_a_parked_event_is_refused_to_another_event(
    rewards_container: Container,
) -> None:
    newcomer = str(uuid.uuid4())
    dinner = partner_message(newcomer, "DINING", checkAmount="48.20")
    assert handle(rewards_container, dinner) == []
    bigger = {**dinner, "checkAmount": "4820.00"}
    repeat = {**dinner, "correlationId": "corr-again"}
    assert handle(rewards_container, repeat) == []
    (rejected,) = handle(rewards_container, bigger)
    assert (rejected.reason, rejected.inbound.raw["checkAmount"]) == (
        "event_id_conflict",
        "4820.00",
    )
    (waiting,) = parked(rewards_container)
    assert waiting["payload"]["checkAmount"] == "48.20"


def test_events_of_players_not_registered_yet_wait_then_go_on_or_to_the_dead_letters(
    rewards_container: Container,
) -> None:
    newcomer, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    stay = partner_message(newcomer, "HOTEL_STAY", nights=2)
    undo = reversal_message(stay)
    lost = partner_message(stranger, "DINING")
    assert handle(rewards_container, stay, lost) == []
    assert handle(rewards_container, undo, stay) == []  # a redelivery stays parked once
    assert sorted(p["event_id"] for p in parked(rewards_container)) == sorted(
        [stay["eventId"], undo["eventId"], lost["eventId"]]
    )
    assert recorded(rewards_container) == {}
    assert confirmations(rewards_container) == []

    # The wait of the test profile (2 s) could end on a slow machine before the checks below.
    sweeper = ParkedEventsService(
        rewards_container.uow,
        rewards_container.core.clock(),
        wait=timedelta(minutes=15),
        group_id="rewards-reward-events",
        batch_size=100,
    )
    assert sweeper.sweep().released == 0  # nobody registered yet, and no wait is over

    with rewards_container.uow() as uow:
        uow.players.add_new([Player(newcomer, datetime.now(UTC))])
        uow.commit()
    swept = sweeper.sweep()
    assert (swept.released, swept.expired, swept.waiting) == (2, [], 1)
    published = outbox_rows(rewards_container)
    assert [(r["topic"], r["message_key"], r["payload"]) for r in published] == [
        ("reward-events", newcomer, stay),
        ("reward-events", newcomer, undo),
    ]
    assert published[0]["headers"] == {
        "eventType": "HOTEL_STAY",
        "X-Correlation-ID": stay["correlationId"],
    }
    # Consumed again: recorded and confirmed like any event.
    assert handle(rewards_container, stay, undo) == []
    assert [c["pointsAwarded"] for c in confirmations(rewards_container)] == [20, -20]

    # The stranger never registers: dead-lettered once the wait is over, ready to replay.
    later = ParkedEventsService(
        rewards_container.uow,
        FixedClock(datetime.now(UTC) + timedelta(hours=1)),
        wait=timedelta(minutes=15),
        group_id="rewards-reward-events",
        batch_size=100,
    )
    swept = later.sweep()
    assert [p.event_id for p in swept.expired] == [lost["eventId"]]
    assert swept.waiting == 0
    dead = outbox_rows(rewards_container)[-1]
    assert (dead["topic"], dead["message_key"], dead["payload"]) == (
        "reward-events.dlq",
        stranger,
        lost,
    )
    assert dead["headers"]["dlq-reason"] == "unknown_player"
    assert dead["headers"]["dlq-original-topic"] == "reward-events"
    assert stranger in dead["headers"]["dlq-error"]
    assert parked(rewards_container) == []


def test_a_batch_of_a_thousand_events_over_many_players(
    rewards_container: Container,
) -> None:
    many = add_players(rewards_container, 50)
    now = datetime.now(UTC)
    batch = [
        partner_message(
            many[i % 50], "CASINO_SPEND", now - timedelta(hours=i), amountWagered="20.00"
        )
        for i in range(1000)
    ]
    assert handle(rewards_container, *batch) == []
    assert len(confirmations(rewards_container)) == 1000
    with rewards_container.core.database().connect() as connection:
        daily = connection.execute(
            text("SELECT sum(points), sum(events) FROM player_points_daily")
        ).one()
        monthly = connection.execute(
            text("SELECT sum(points), sum(events) FROM player_points_monthly")
        ).one()
    assert (int(daily[0]), int(daily[1])) == (2000, 1000)
    assert (int(monthly[0]), int(monthly[1])) == (2000, 1000)


def test_confirmations_since_a_moment_are_published_again_with_the_same_event_ids(
    rewards_container: Container, players: list[str]
) -> None:
    alice, bob, _ = players
    before = [partner_message(alice, "HOTEL_STAY", nights=1)]
    assert handle(rewards_container, *before) == []
    time.sleep(0.01)
    since = datetime.now(UTC)
    after = [
        partner_message(bob, "HOTEL_STAY", nights=2),
        partner_message(alice, "DINING", checkAmount="20.00"),
        reversal_message(before[0]),
    ]
    assert handle(rewards_container, *after) == []
    first = confirmations(rewards_container)
    replay: ConfirmationReplay = rewards_container.confirmation_replay(batch_size=2)  # 2 pages

    assert replay.republish(since) == 3
    again = confirmations(rewards_container)[len(first) :]
    expected = {c["eventId"]: c for c in first if c["sourceEventId"] != before[0]["eventId"]}
    assert sorted(c["eventId"] for c in again) == sorted(expected)
    for confirmation in again:
        kept = expected[confirmation["eventId"]]
        assert (confirmation["key"], confirmation["user_id"]) == (kept["key"], kept["user_id"])
        assert confirmation["pointsAwarded"] == kept["pointsAwarded"]
        assert confirmation["sourceEventId"] == kept["sourceEventId"]
    assert replay.republish(datetime.now(UTC)) == 0
